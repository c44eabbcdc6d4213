import type { EntraOptions } from "@org/entra-core";
import { startProxy } from "@org/entra-db-cli";
import mysql from "mysql2/promise";
import pg from "pg";
import { Connection } from "tedious";
import { type HostileAddress, type HostileTarget, hostileTarget } from "./hostile-matrix.js";

type ProxyEngine = "postgresql" | "mysql" | "sqlserver";

/** How the proxy is told to trust the server: Node's store (with NODE_EXTRA_CA_CERTS), or `--ca`. */
const TLS_SETTINGS = {
  defaults: (): { ca?: string } => ({}),
  "--ca <the server's CA>": (server: HostileAddress): { ca?: string } => ({ ca: server.ca }),
};

/** A local client of the proxy that needs no token: opens, runs one query, closes. */
const LOCAL_CLIENTS: Readonly<Record<ProxyEngine, (port: number) => Promise<unknown>>> = {
  async postgresql(port) {
    const client = new pg.Client({
      host: "127.0.0.1",
      port,
      user: "local",
      database: "postgres",
      connectionTimeoutMillis: 10_000,
    });
    client.on("error", () => {});
    try {
      await client.connect();
      await client.query("select 1");
    } finally {
      await client.end().catch(() => {});
    }
  },
  async mysql(port) {
    const connection = await mysql.createConnection({
      host: "127.0.0.1",
      port,
      user: "local",
      password: "dummy",
      connectTimeout: 10_000,
    });
    try {
      await connection.query("select 1");
    } finally {
      await connection.end().catch(() => {});
    }
  },
  async sqlserver(port) {
    const connection = new Connection({
      server: "127.0.0.1",
      options: { port, encrypt: false, connectTimeout: 10_000 },
      authentication: { type: "default", options: { userName: "local", password: "dummy" } },
    });
    try {
      await new Promise<void>((resolve, reject) =>
        connection.connect((error) => (error ? reject(error) : resolve())),
      );
    } finally {
      connection.close();
    }
  },
};

/**
 * `entra-db proxy` (`startProxy`) in front of a hostile server, with the canary token from the
 * runner's token provider: a local client that needs no token connects to the proxy, which must
 * refuse to sign in upstream, so no part of the canary reaches the impostor.
 */
export function proxyHostileTarget(engine: ProxyEngine): HostileTarget {
  return hostileTarget<{ ca?: string }>({
    name: "entra-db proxy",
    engine,
    tlsSettings: TLS_SETTINGS,
    async connect(server, { ca }, options: EntraOptions) {
      const proxy = await startProxy({
        engine,
        host: server.host,
        port: server.port,
        database: engine === "mysql" ? "test" : "postgres",
        user: engine === "sqlserver" ? undefined : "hostile-canary",
        ca,
        tokenProvider: options.tokenProvider,
        env: {},
        loginTimeoutInMs: 15_000,
      });
      try {
        await LOCAL_CLIENTS[engine](proxy.port);
      } finally {
        await proxy.close();
      }
    },
  });
}

import { readFileSync } from "node:fs";
import { createCredential } from "./acquire-token.js";
import { CliError } from "./cli-error.js";
import type { CliIo } from "./cli-io.js";
import { parseSeconds, parseTimeout } from "./command-options.js";
import { type Command, defineCommand } from "./define-command.js";
import { PROXY_PASSWORD_VARIABLE, type ProxyListenOptions, startProxy } from "./proxy/start-proxy.js";
import { defaultPort, describeTarget, resolveTarget } from "./resolve-target.js";

/** Usage of `entra-db proxy`. */
export const PROXY_USAGE = `Usage: entra-db proxy [--engine postgresql|mysql|sqlserver] [options]

A local auth proxy for clients that cannot take a token: psql, the mysql and mariadb clients,
GUI tools, Prisma's migration engine, PgBouncer, programs in other languages. Connect to it with
no password (any user name); for every connection it signs in to the Azure server over verified
TLS (TDS 8 strict for Azure SQL) with a fresh Entra token, then relays bytes. The token never
reaches the local client.

When ready it prints one line on stdout, "listening on HOST:PORT" (--json: {"host","port"}).
SIGINT or SIGTERM stops accepting, lets open sessions finish for --drain seconds, then exits.

  entra-db proxy --engine postgresql --listen 127.0.0.1:6432 &
  psql "host=127.0.0.1 port=6432 dbname=app"

Options:
  -e, --engine <engine>      postgresql, mysql or sqlserver (default: the engine whose variables are set)
      --host <host>          Azure server (default: AZURE_POSTGRESQL_HOST / AZURE_MYSQL_HOST / AZURE_SQL_SERVER)
      --port <port>          Azure server port (default: *_PORT, else 5432 / 3306 / 1433)
  -d, --database <name>      Database for clients that name none (default: *_DATABASE)
  -u, --user <name>          User to sign in as upstream (default: *_USER, else the name in the token)
      --client-id <id>       Client ID of a user-assigned managed identity (default: *_CLIENTID)
      --scope <scope>        Token scope (default: chosen from the engine and host)
      --listen <addr>        HOST:PORT (port 0 picks a free one) or a Unix socket path
                             (default 127.0.0.1 and the engine's port)
      --local-password <pw>  Password local clients must send (default: ${PROXY_PASSWORD_VARIABLE});
                             required to listen on anything but loopback or a Unix socket
      --ca <file>            PEM file of the CA certificates that verify the Azure server
                             (default: Node's store and NODE_EXTRA_CA_CERTS)
      --tls-cert <file>      PEM certificate chain to offer local clients that ask for TLS
      --tls-key <file>       its PEM private key (both, or neither: local connections are plain)
      --max-connections <n>  Client connections at once (default 100)
      --idle-timeout <s>     Disconnect a client silent for this long (default: never)
      --drain <s>            On SIGINT/SIGTERM, let sessions finish for this long (default 10)
      --json                 Print the ready line as JSON: {"host","port"}
      --timeout <s>          Give up getting the first token after this many seconds (default 30)
  -h, --help                 Show this help`;

/** Parses `--listen`: `HOST:PORT`, `[IPv6]:PORT`, `:PORT`, or a Unix socket path (containing `/`). */
export function parseListen(value: string | undefined, fallbackPort: number): ProxyListenOptions {
  if (value === undefined) return { host: "127.0.0.1", port: fallbackPort };
  if (value.includes("/")) return { path: value };
  const match = /^(?:\[([^\]]+)\]|([^:]*)):(\d{1,5})$/.exec(value);
  const port = match ? Number(match[3]) : Number.NaN;
  if (!match || !(port >= 0 && port <= 65535)) {
    throw new CliError(
      "USAGE",
      `--listen must be HOST:PORT or a Unix socket path (got "${value}").`,
      "For example --listen 127.0.0.1:6432, --listen 127.0.0.1:0 or --listen /tmp/entra-db.sock.",
    );
  }
  return { host: match[1] ?? (match[2] || "127.0.0.1"), port };
}

function readPem(option: string, file: string | undefined, what: string): string | undefined {
  if (file === undefined) return undefined;
  try {
    return readFileSync(file, "utf8");
  } catch {
    throw new CliError("USAGE", `Cannot read the ${option} file "${file}".`, `Pass ${what}.`);
  }
}

function positiveCount(option: string, value: string | undefined): number | undefined {
  if (value === undefined) return undefined;
  const count = /^\d+$/.test(value) ? Number(value) : Number.NaN;
  if (!(count >= 1)) throw new CliError("USAGE", `${option} must be a positive integer (got "${value}").`);
  return count;
}

function stopSignal(io: CliIo): { signal: AbortSignal; dispose(): void } {
  if (io.signal) return { signal: io.signal, dispose() {} };
  const controller = new AbortController();
  const stop = () => controller.abort();
  process.once("SIGINT", stop);
  process.once("SIGTERM", stop);
  return {
    signal: controller.signal,
    dispose() {
      process.off("SIGINT", stop);
      process.off("SIGTERM", stop);
    },
  };
}

/**
 * `entra-db proxy`: runs {@link startProxy} in the foreground with the target from the flags and
 * the Service Connector variables, prints the ready line, and on SIGINT/SIGTERM (or `io.signal`)
 * drains and returns 0.
 */
export const proxyCommand: Command = defineCommand({
  name: "proxy",
  usage: PROXY_USAGE,
  options: {
    listen: { type: "string" },
    "local-password": { type: "string" },
    ca: { type: "string" },
    "tls-cert": { type: "string" },
    "tls-key": { type: "string" },
    "max-connections": { type: "string" },
    "idle-timeout": { type: "string" },
    drain: { type: "string" },
    json: { type: "boolean" },
  },
  run: async (flags, io) => {
    const target = resolveTarget(flags, io.env);
    const listen = parseListen(flags.listen, defaultPort(target.engine));
    const ca = readPem("--ca", flags.ca, "a PEM file with the CA certificates of the Azure server");
    if ((flags["tls-cert"] === undefined) !== (flags["tls-key"] === undefined)) {
      throw new CliError(
        "USAGE",
        "--tls-cert and --tls-key go together.",
        "Pass both PEM files, or neither.",
      );
    }
    const tlsCert = readPem("--tls-cert", flags["tls-cert"], "a PEM certificate chain, leaf first");
    const tlsKey = readPem("--tls-key", flags["tls-key"], "the certificate's PEM private key");
    const drainInMs = parseSeconds("--drain", flags.drain, 10_000);
    const stop = stopSignal(io);
    try {
      const proxy = await startProxy({
        engine: target.engine,
        host: target.host,
        port: target.port,
        database: target.database,
        user: target.user,
        clientId: target.clientId,
        scope: target.scope,
        credential: createCredential(io, { clientId: target.clientId }),
        env: io.env,
        ca,
        localTls: tlsCert !== undefined && tlsKey !== undefined ? { cert: tlsCert, key: tlsKey } : undefined,
        listen,
        localPassword: flags["local-password"] ?? io.env[PROXY_PASSWORD_VARIABLE],
        maxConnections: positiveCount("--max-connections", flags["max-connections"]),
        idleTimeoutInMs: parseSeconds("--idle-timeout", flags["idle-timeout"]),
        getTokenTimeoutInMs: parseTimeout(flags.timeout, 30_000),
        warmUp: true,
      });
      io.stdout.write(
        flags.json
          ? `${JSON.stringify({ host: proxy.host, port: proxy.port })}\n`
          : `listening on ${proxy.port === 0 ? proxy.host : `${formatHost(proxy.host)}:${proxy.port}`}\n`,
      );
      io.stderr.write(`entra-db proxy: relaying to ${describeTarget(target)}\n`);
      if (!stop.signal.aborted) {
        await new Promise((resolve) => stop.signal.addEventListener("abort", resolve, { once: true }));
      }
      io.stderr.write("entra-db proxy: stopping; letting open sessions finish\n");
      await proxy.close({ graceInMs: drainInMs });
      return 0;
    } finally {
      stop.dispose();
    }
  },
});

function formatHost(host: string): string {
  return host.includes(":") ? `[${host}]` : host;
}

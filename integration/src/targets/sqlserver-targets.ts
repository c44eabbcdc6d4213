import { withEntra as withMssqlEntra } from "@org/mssql-entra";
import { watchEntraErrors, withEntra as withTediousEntra } from "@org/tedious-entra";
import mssql from "mssql";
import { Connection, Request } from "tedious";
import type { ConformanceTarget } from "../conformance.js";
import type { Harness } from "../start-harness.js";

/** The principal the session runs as (the token's, as Azure SQL reports it). */
const WHO_AM_I = "SELECT SUSER_SNAME() AS name";

/** Verified TLS against the emulator's CA; TDS 8 strict is the adapters' default. */
function tls(harness: Harness) {
  return { cryptoCredentialsDetails: { ca: harness.tls.ca } };
}

function connect(connection: Connection): Promise<void> {
  return new Promise((resolve, reject) => connection.connect((error) => (error ? reject(error) : resolve())));
}

function queryScalar(connection: Connection, sql: string): Promise<unknown> {
  return new Promise((resolve, reject) => {
    let value: unknown;
    const request = new Request(sql, (error) => (error ? reject(error) : resolve(value)));
    request.on("row", (columns) => {
      value = columns[0]?.value;
    });
    connection.execSql(request);
  });
}

function close(connection: Connection): Promise<void> {
  return new Promise((resolve) => {
    if (connection.closed) return resolve();
    connection.once("end", () => resolve());
    connection.close();
  });
}

/** `@org/tedious-entra` with plain tedious connections (tedious has no pool: every cycle connects). */
export const tediousTarget: ConformanceTarget = {
  name: "tedious",
  engine: "sqlserver",
  async connectOnce(harness, { user: _user, ...options } = {}) {
    const connection = watchEntraErrors(new Connection(withTediousEntra({ options: tls(harness) }, options)));
    try {
      await connect(connection);
      return String(await queryScalar(connection, WHO_AM_I));
    } finally {
      await close(connection);
    }
  },
  createPool(harness) {
    const config = withTediousEntra({ options: tls(harness) });
    return {
      native: config,
      async cycle() {
        const connection = watchEntraErrors(new Connection(config));
        try {
          await connect(connection);
          await queryScalar(connection, "SELECT 1");
        } finally {
          await close(connection);
        }
      },
      close: async () => {},
    };
  },
  insecureConfigs: (harness) => ({
    "encrypt: false": () => withTediousEntra({ options: { ...tls(harness), encrypt: false } }),
    "trustServerCertificate: true": () =>
      withTediousEntra({ options: { ...tls(harness), encrypt: true, trustServerCertificate: true } }),
  }),
  async connectPlaintext(harness) {
    const connection = new Connection(
      withTediousEntra({ options: { ...tls(harness), encrypt: false } }, { allowInsecure: true }),
    );
    try {
      await connect(connection);
    } finally {
      await close(connection);
    }
  },
};

/**
 * `@org/mssql-entra` with `mssql.ConnectionPool`. A cycle checks a connection out of the pool,
 * runs a query on it, and marks it broken (`hasError`, the flag mssql's own validation reads), so the
 * pool replaces it: the next checkout authenticates a new physical connection.
 */
export const mssqlTarget: ConformanceTarget = {
  name: "mssql",
  engine: "sqlserver",
  probeLoginsPerPool: 1,
  async connectOnce(harness, { user: _user, ...options } = {}) {
    const pool = new mssql.ConnectionPool(
      withMssqlEntra({ options: tls(harness), pool: { min: 0, max: 1 } }, options),
    );
    try {
      await pool.connect();
      const { recordset } = await pool.request().query<{ name: string }>(WHO_AM_I);
      return String(recordset[0]?.name);
    } finally {
      await pool.close();
    }
  },
  createPool(harness, size) {
    const pool = new mssql.ConnectionPool(
      withMssqlEntra({ options: tls(harness), pool: { min: 0, max: size } }),
    );
    const ready = pool.connect();
    type Pooled = Connection & { hasError?: boolean };
    const internals = pool as unknown as {
      acquire(requester: unknown): Promise<Pooled>;
      release(connection: Pooled): void;
    };
    return {
      native: pool,
      async cycle() {
        await ready;
        const connection = await internals.acquire(pool);
        try {
          await queryScalar(connection, "SELECT 1");
        } finally {
          connection.hasError = true;
          internals.release(connection);
        }
      },
      close: async () => {
        await ready.catch(() => {});
        await pool.close();
      },
    };
  },
  insecureConfigs: (harness) => ({
    "encrypt: false": () => withMssqlEntra({ options: { ...tls(harness), encrypt: false } }),
    "trustServerCertificate: true": () =>
      withMssqlEntra({ options: { ...tls(harness), encrypt: true, trustServerCertificate: true } }),
    "Encrypt=false connection string": () =>
      withMssqlEntra("Server=localhost;Database=emulated-db;Encrypt=false"),
  }),
  async connectPlaintext(harness) {
    const pool = new mssql.ConnectionPool(
      withMssqlEntra({ options: { ...tls(harness), encrypt: false } }, { allowInsecure: true }),
    );
    try {
      await pool.connect();
    } finally {
      await pool.close().catch(() => {});
    }
  },
};

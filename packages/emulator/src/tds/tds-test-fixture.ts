import { Connection, type ConnectionConfiguration, Request } from "tedious";
import type { SqlLoginDecision } from "../authorize-login.js";
import { createTlsAuthority, type TlsAuthority } from "../tls-authority.js";
import {
  type SqlServerEndpoint,
  type SqlServerEndpointLimits,
  type SqlServerEndpointOptions,
  startSqlServerEndpoint,
} from "./tds-server.js";

/** The database the fixture serves. */
export const TDS_TEST_DATABASE = "emulated-db";

/**
 * The fake token check: `good` and `good-...` log in as `app-user` (login `app-principal`);
 * `expired`, `audience`, `invalid` and `principal` are refused with that reason; `throw` throws.
 */
export function fakeSqlAuthorize({ token }: { token: string }): SqlLoginDecision {
  if (token === "good" || token.startsWith("good-"))
    return { ok: true, user: "app-user", login: "app-principal" };
  if (token === "throw") throw new Error("authorize failed");
  if (token === "expired" || token === "audience" || token === "principal")
    return { ok: false, reason: token };
  return { ok: false, reason: "invalid" };
}

/** An endpoint plus what a test needs to reach it. */
export interface TdsFixture {
  readonly endpoint: SqlServerEndpoint;
  readonly certificate: TlsAuthority;
  readonly logins: Array<{ accepted: boolean; reason?: string; user: string }>;
  readonly tokens: string[];
  /** A tedious config for the endpoint with verified TLS (`strict` by default) and a static token. */
  config(
    token?: string,
    options?: { encrypt?: boolean | "strict"; authentication?: ConnectionConfiguration["authentication"] },
  ): ConnectionConfiguration;
  close(): Promise<void>;
}

let certificate: Promise<TlsAuthority> | undefined;

/** Starts an endpoint with {@link fakeSqlAuthorize}, a (per-process cached) certificate and recorded logins. */
export async function startTdsFixture(
  overrides: Partial<SqlServerEndpointOptions> = {},
  limits: Partial<SqlServerEndpointLimits> = {},
): Promise<TdsFixture> {
  certificate ??= createTlsAuthority();
  const cert = await certificate;
  const logins: TdsFixture["logins"] = [];
  const tokens: string[] = [];
  const endpoint = await startSqlServerEndpoint(
    {
      host: "127.0.0.1",
      port: 0,
      tls: { key: cert.key, cert: cert.cert },
      requireTls: true,
      database: TDS_TEST_DATABASE,
      tenantId: "72f988bf-0000-4000-8000-00000000e417",
      authorize: (request) => {
        tokens.push(request.token);
        return fakeSqlAuthorize(request);
      },
      onLogin: (event) => logins.push(event),
      ...overrides,
    },
    limits,
  );
  return {
    endpoint,
    certificate: cert,
    logins,
    tokens,
    config: (token = "good", options = {}) => ({
      server: "localhost",
      authentication: options.authentication ?? {
        type: "azure-active-directory-access-token",
        options: { token },
      },
      options: {
        port: endpoint.port,
        database: TDS_TEST_DATABASE,
        encrypt: options.encrypt ?? "strict",
        trustServerCertificate: false,
        cryptoCredentialsDetails: { ca: cert.ca },
        connectTimeout: 5_000,
        requestTimeout: 5_000,
      },
    }),
    close: () => endpoint.close(),
  };
}

/** Connects with tedious; resolves with the open connection or rejects with the login error. */
export function connectTedious(config: ConnectionConfiguration): Promise<Connection> {
  return new Promise((resolve, reject) => {
    const connection = new Connection(config);
    connection.on("error", () => {});
    connection.connect((error) => {
      if (error) {
        connection.close();
        reject(error);
      } else resolve(connection);
    });
  });
}

/** Runs a statement (SQL_BATCH by default, `sp_executesql` with `rpc`) and collects the rows. */
export function queryTedious(
  connection: Connection,
  sql: string,
  options: { rpc?: boolean } = {},
): Promise<{ columns: string[]; rows: unknown[][]; rowCount: number | undefined }> {
  return new Promise((resolve, reject) => {
    const rows: unknown[][] = [];
    let columns: string[] = [];
    const request = new Request(sql, (error, rowCount) => {
      if (error) reject(error);
      else resolve({ columns, rows, rowCount });
    });
    request.on("columnMetadata", (metadata) => {
      columns = (Array.isArray(metadata) ? metadata : Object.values(metadata)).map(
        (column) => column.colName,
      );
    });
    request.on("row", (row) => rows.push(row.map((cell: { value: unknown }) => cell.value)));
    if (options.rpc) connection.execSql(request);
    else connection.execSqlBatch(request);
  });
}

/** Closes a tedious connection and waits for its `end`. */
export function closeTedious(connection: Connection): Promise<void> {
  return new Promise((resolve) => {
    if (connection.closed) {
      resolve();
      return;
    }
    connection.once("end", () => resolve());
    connection.close();
  });
}

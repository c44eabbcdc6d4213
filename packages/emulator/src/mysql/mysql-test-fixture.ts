import mysql from "mysql2/promise";
import type { LoginDecision } from "../authorize-login.js";
import { createTlsAuthority, type TlsAuthority } from "../tls-authority.js";
import { runMysqlAdminStatements } from "./mysql-admin.js";
import {
  type MysqlGateway,
  type MysqlGatewayLimits,
  type MysqlGatewayOptions,
  startMysqlGateway,
} from "./mysql-gateway.js";

export { openRaw as openRawMysql, type RawConnection as RawMysqlConnection } from "../raw-test-connection.js";

/** The local MariaDB the end-to-end tests run against (root without password). */
export const MYSQL_BACKEND = { host: "127.0.0.1", port: 3306 } as const;
/** The backend user the fake `authorize` maps good tokens to. */
export const MYSQL_BACKEND_USER = "entra_gateway_app";

/** Creates {@link MYSQL_BACKEND_USER} (no password, all rights on `test`) if missing. */
export async function ensureMysqlBackendUser(user: string = MYSQL_BACKEND_USER): Promise<void> {
  await runMysqlAdminStatements({ ...MYSQL_BACKEND, user: "root" }, [
    `CREATE USER IF NOT EXISTS '${user}'@'%'`,
    `GRANT ALL ON \`test\`.* TO '${user}'@'%'`,
  ]);
}

/**
 * The fake token check: `good` and `good-...` map to {@link MYSQL_BACKEND_USER}; `expired`, `audience`,
 * `invalid` and `principal` are refused with that reason; `throw` throws; anything else is invalid.
 */
export function fakeMysqlAuthorize({ token }: { token: string }): LoginDecision {
  if (token === "good" || token.startsWith("good-")) return { ok: true, backendUser: MYSQL_BACKEND_USER };
  if (token === "throw") throw new Error("authorize failed");
  if (token === "expired" || token === "audience" || token === "principal")
    return { ok: false, reason: token };
  return { ok: false, reason: "invalid" };
}

/** A gateway in front of {@link MYSQL_BACKEND} plus what a test needs to reach it. */
export interface MysqlGatewayFixture {
  readonly gateway: MysqlGateway;
  readonly certificate: TlsAuthority;
  readonly logins: Array<{ accepted: boolean; reason?: string; user: string }>;
  /** A mysql2 config for the gateway over verified TLS that sends `token` as the cleartext password. */
  clientConfig(token?: string, overrides?: mysql.ConnectionOptions): mysql.ConnectionOptions;
  close(): Promise<void>;
}

let certificate: Promise<TlsAuthority> | undefined;

/** Starts a gateway with {@link fakeMysqlAuthorize}, a (per-process cached) certificate and recorded logins. */
export async function startMysqlGatewayFixture(
  overrides: Partial<MysqlGatewayOptions> = {},
  limits: Partial<MysqlGatewayLimits> = {},
): Promise<MysqlGatewayFixture> {
  certificate ??= createTlsAuthority();
  const cert = await certificate;
  const logins: MysqlGatewayFixture["logins"] = [];
  const gateway = await startMysqlGateway(
    {
      host: "127.0.0.1",
      port: 0,
      tls: { key: cert.key, cert: cert.cert },
      requireTls: true,
      backend: { ...MYSQL_BACKEND },
      authorize: fakeMysqlAuthorize,
      onLogin: (event) => logins.push(event),
      ...overrides,
    },
    limits,
  );
  return {
    gateway,
    certificate: cert,
    logins,
    clientConfig: (token = "good", config = {}) => ({
      host: "localhost",
      port: gateway.port,
      user: "app@contoso",
      database: "test",
      ssl: { ca: cert.ca },
      authPlugins: { mysql_clear_password: () => () => Buffer.from(`${token}\0`) },
      ...config,
    }),
    close: () => gateway.close(),
  };
}

/** Runs `fn` with a connected mysql2 connection and always ends it. */
export async function withMysqlClient<T>(
  config: mysql.ConnectionOptions,
  fn: (connection: mysql.Connection) => Promise<T>,
): Promise<T> {
  const connection = await mysql.createConnection(config);
  connection.on("error", () => {});
  try {
    return await fn(connection);
  } finally {
    await connection.end().catch(() => connection.destroy());
  }
}

/** Connects and returns the error the login fails with (throws if it succeeds). */
export async function mysqlLoginError(
  config: mysql.ConnectionOptions,
): Promise<Error & { errno?: number; sqlState?: string; sqlMessage?: string; code?: string }> {
  let connection: mysql.Connection;
  try {
    connection = await mysql.createConnection(config);
  } catch (error) {
    return error as Error & { errno?: number; sqlState?: string; sqlMessage?: string };
  }
  await connection.end();
  throw new Error("login unexpectedly succeeded");
}

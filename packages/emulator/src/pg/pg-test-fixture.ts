import pg from "pg";
import { createTlsAuthority, type TlsAuthority } from "../tls-authority.js";
import {
  type AuthDecision,
  type PgGateway,
  type PgGatewayLimits,
  type PgGatewayOptions,
  startPgGateway,
} from "./pg-gateway.js";

export { openRaw, type RawConnection } from "../raw-test-connection.js";

/** The local PostgreSQL 15 the end-to-end tests run against (trust auth). */
export const BACKEND = { host: "127.0.0.1", port: 5432 } as const;
/** The backend role the fake `authorize` maps good tokens to. */
export const BACKEND_USER = "entra_gateway_app";

/** Creates {@link BACKEND_USER} on the backend if missing (safe when test files run in parallel). */
export async function ensureBackendRole(role: string = BACKEND_USER): Promise<void> {
  const admin = new pg.Client({ ...BACKEND, user: "postgres", database: "postgres" });
  await admin.connect();
  try {
    await admin.query(`CREATE ROLE ${role} LOGIN`);
  } catch (error) {
    // 42710 duplicate_object, 23505 unique_violation (a concurrent CREATE ROLE).
    const code = (error as { code?: string }).code;
    if (code !== "42710" && code !== "23505") throw error;
  } finally {
    await admin.end();
  }
}

/**
 * The fake token check: `good` and `good-...` map to {@link BACKEND_USER}; `expired`, `audience`,
 * `invalid` and `principal` are refused with that reason; `throw` throws; anything else is invalid.
 */
export function fakeAuthorize({ token }: { token: string }): AuthDecision {
  if (token === "good" || token.startsWith("good-")) return { ok: true, backendUser: BACKEND_USER };
  if (token === "throw") throw new Error("authorize failed");
  if (token === "expired" || token === "audience" || token === "principal")
    return { ok: false, reason: token };
  return { ok: false, reason: "invalid" };
}

/** A gateway in front of {@link BACKEND} plus what a test needs to reach it. */
export interface GatewayFixture {
  readonly gateway: PgGateway;
  readonly certificate: TlsAuthority;
  readonly logins: Array<{ accepted: boolean; reason?: string; user: string }>;
  /** A pg client config for the gateway over verified TLS. */
  clientConfig(overrides?: pg.ClientConfig): pg.ClientConfig;
  close(): Promise<void>;
}

let certificate: Promise<TlsAuthority> | undefined;

/** Starts a gateway with {@link fakeAuthorize}, a fresh (per-process cached) certificate and recorded logins. */
export async function startGatewayFixture(
  overrides: Partial<PgGatewayOptions> = {},
  limits: Partial<PgGatewayLimits> = {},
): Promise<GatewayFixture> {
  certificate ??= createTlsAuthority();
  const cert = await certificate;
  const logins: GatewayFixture["logins"] = [];
  const gateway = await startPgGateway(
    {
      host: "127.0.0.1",
      port: 0,
      tls: { key: cert.key, cert: cert.cert },
      requireTls: true,
      backend: { ...BACKEND },
      authorize: fakeAuthorize,
      onLogin: (event) => logins.push(event),
      ...overrides,
    },
    limits,
  );
  return {
    gateway,
    certificate: cert,
    logins,
    clientConfig: (config = {}) => ({
      host: "localhost",
      port: gateway.port,
      user: "app@contoso",
      database: "test",
      password: "good",
      ssl: { ca: cert.ca },
      ...config,
    }),
    close: () => gateway.close(),
  };
}

/** Runs `fn` with a connected client and always ends it. */
export async function withClient<T>(
  config: pg.ClientConfig,
  fn: (client: pg.Client) => Promise<T>,
): Promise<T> {
  const client = new pg.Client(config);
  client.on("error", () => {});
  await client.connect();
  try {
    return await fn(client);
  } finally {
    await client.end().catch(() => {});
  }
}

/** Connects and returns the error the login fails with (throws if it succeeds). */
export async function loginError(
  config: pg.ClientConfig,
): Promise<Error & { code?: string; severity?: string }> {
  const client = new pg.Client(config);
  client.on("error", () => {});
  try {
    await client.connect();
  } catch (error) {
    return error as Error & { code?: string; severity?: string };
  }
  await client.end();
  throw new Error("login unexpectedly succeeded");
}

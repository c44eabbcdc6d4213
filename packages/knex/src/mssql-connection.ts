import { createRequire } from "node:module";
import { EntraAuthError, type EntraOptions } from "@org/entra-core";
import {
  holdWhileConnected,
  type MssqlEntraConfig,
  sessionExpiresSoon,
  trackSessionExpiry,
  watchEntraErrors,
  withEntra as withMssqlEntra,
} from "@org/mssql-entra";

/**
 * The fields knex's mssql dialect (`Client_MSSQL._generateConnection`) turns into tedious's
 * `authentication`. They go to `@org/mssql-entra` as an `authentication` value (or as the
 * top-level secrets it refuses) and never come back: the result carries only `type` and `credential`.
 */
const AUTH_FIELDS = [
  "type",
  "credential",
  "userName",
  "user",
  "password",
  "domain",
  "token",
  "clientId",
  "clientSecret",
  "tenantId",
  "msiEndpoint",
] as const;

/**
 * Runs a knex `mssql` connection through `@org/mssql-entra`'s `withEntra` and maps the result back
 * to the fields knex's mssql dialect reads. knex builds a tedious config itself, per connection:
 * `authentication: { type: settings.type || "default", options: { credential: settings.credential, ... } }`
 * and `options: { encrypt: settings.encrypt || false, trustServerCertificate: false, ...settings.options }`.
 * So the result sets `type: "token-credential"`, `credential` (the shared-provider credential),
 * and `encrypt` both at the top level and in `options` (with `trustServerCertificate: false`);
 * knex passes `"strict"` through to tedious unchanged.
 *
 * knex's own auth fields are checked by `@org/mssql-entra`: `user` / `userName`, `password`,
 * `domain`, `token`, `clientSecret` and any `type` other than `token-credential` are refused with
 * the reason; `credential` (with or without `type: "token-credential"`) is adopted and cached;
 * `clientId` names the user-assigned managed identity.
 *
 * @param connection - A knex mssql connection object, or an ADO.NET connection string.
 * @param options - Passed to `@org/mssql-entra` (the credential defaults to `DefaultAzureCredential`).
 * @returns The connection for knex, without the fields knex has no use for (`beforeConnect`).
 */
export function withEntraMssqlConnection(
  connection: string | Record<string, unknown>,
  options: EntraOptions,
): Record<string, unknown> {
  const wired =
    typeof connection === "string"
      ? withMssqlEntra(connection, options)
      : withMssqlEntra(toMssqlConfig(connection), options);
  const {
    server,
    authentication,
    options: tediousOptions,
    // mssql fields knex does not read (its dialect calls tedious directly).
    beforeConnect: _beforeConnect,
    trustServerCertificate: _trustServerCertificate,
    clientId: _clientId,
    ...rest
  } = wired as typeof wired & { trustServerCertificate?: unknown; clientId?: unknown };
  return {
    ...rest,
    server,
    type: authentication.type,
    credential: authentication.options.credential,
    encrypt: tediousOptions.encrypt,
    options: tediousOptions,
  };
}

/** knex's `pool.afterCreate` hook: called with each new raw connection (a tedious `Connection`). */
type AfterCreate = (connection: unknown, done: (error: Error | null, connection?: unknown) => void) => void;

/** `afterCreate` hooks made here, mapped to the caller's hook they wrap. */
const ownAfterCreate = new WeakMap<AfterCreate, AfterCreate | undefined>();

/**
 * knex's `pool.afterCreate` for client `mssql`: knex's mssql dialect creates and logs in each
 * tedious `Connection` itself, and this hook is where knex hands it over (logged in, before any
 * query). It holds the shared token provider until the connection ends (`destroy()` closes every
 * connection), so the provider refreshes ahead of expiry while knex has connections open, learns
 * when the session's token expires (for {@link createMssqlValidate}) and explains a mid-session
 * error 37396; then it runs your own `afterCreate`, if any.
 *
 * @param existing - The config's `pool.afterCreate`, if any (a hook made here is unwrapped).
 * @returns The hook to put into `pool.afterCreate`.
 */
export function createMssqlAfterCreate(existing: unknown): AfterCreate {
  const given = typeof existing === "function" ? (existing as AfterCreate) : undefined;
  const inner = given && ownAfterCreate.has(given) ? ownAfterCreate.get(given) : given;
  const hook: AfterCreate = (connection, done) => {
    const tedious = connection as Parameters<typeof holdWhileConnected>[0] &
      Parameters<typeof watchEntraErrors>[0] &
      Parameters<typeof trackSessionExpiry>[0] & { connected?: boolean };
    holdWhileConnected(tedious);
    trackSessionExpiry(tedious);
    // knex's validateConnection reads `connected`: a session Azure SQL ended (37396) is not reused.
    watchEntraErrors(tedious, {
      onSessionTokenExpired: () => {
        tedious.connected = false;
      },
    });
    if (inner) inner(connection, done);
    else done(null, connection);
  };
  ownAfterCreate.set(hook, inner);
  return hook;
}

/** knex's `pool.validate` hook: whether a pooled connection may be handed out. */
type Validate = (connection: unknown) => boolean | Promise<boolean>;

/** `validate` hooks made here, mapped to the caller's hook they wrap. */
const ownValidate = new WeakMap<Validate, Validate | undefined>();

/**
 * knex's `pool.validate` for client `mssql`: refuses a connection whose session token expires
 * soon (`sessionExpiresSoon`), so knex's pool closes it and opens a new one with a fresh token
 * instead of sending the next query into Azure SQL's 37396; otherwise your own `validate`, if any,
 * decides (knex's own check that the connection is open always runs after).
 *
 * @param existing - The config's `pool.validate`, if any (a hook made here is unwrapped).
 * @returns The hook to put into `pool.validate`.
 */
export function createMssqlValidate(existing: unknown): Validate {
  const given = typeof existing === "function" ? (existing as Validate) : undefined;
  const inner = given && ownValidate.has(given) ? ownValidate.get(given) : given;
  const hook: Validate = (connection) => {
    if (typeof connection === "object" && connection !== null && sessionExpiresSoon(connection)) return false;
    return inner ? inner(connection) : true;
  };
  ownValidate.set(hook, inner);
  return hook;
}

/** knex's mssql connection fields, as the mssql config `@org/mssql-entra` checks. */
function toMssqlConfig(connection: Record<string, unknown>): MssqlEntraConfig {
  const auth: Record<string, unknown> = {};
  const rest: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(connection)) {
    if ((AUTH_FIELDS as readonly string[]).includes(key)) {
      if (value !== undefined) auth[key] = value;
    } else {
      rest[key] = value;
    }
  }
  const { host, server, ...others } = rest;
  const {
    type,
    credential,
    userName,
    user,
    tenantId: _tenantId,
    msiEndpoint: _msiEndpoint,
    ...secrets
  } = auth;
  const config: Record<string, unknown> = {
    ...others,
    ...secrets,
    server: server ?? host,
    ...((user ?? userName) ? { user: user ?? userName } : {}),
  };
  if (type !== undefined || credential !== undefined) {
    config.authentication = {
      type: type ?? "token-credential",
      options: { ...(credential === undefined ? {} : { credential }) },
    };
  }
  return config as MssqlEntraConfig;
}

/** The first knex whose mssql dialect passes `credential` on to tedious. */
const FIRST_KNEX_WITH_CREDENTIAL = [3, 3, 0] as const;

/**
 * Refuses knex versions whose mssql dialect drops `credential` (knex 3.0-3.2 build tedious's
 * `authentication` without it, and tedious then throws a TypeError on every connection).
 *
 * @param version - The installed knex version. Defaults to the `knex` this package resolves (the
 *   app's, as a peer); when none resolves (a bundled app), nothing is checked.
 * @throws EntraAuthError `INVALID_SETTING` for knex before 3.3.0.
 */
export function assertKnexPassesCredential(version: string | undefined = installedKnexVersion()): void {
  if (version === undefined) return;
  const parts = version.split(/[.-]/).map(Number);
  for (let i = 0; i < FIRST_KNEX_WITH_CREDENTIAL.length; i++) {
    const part = parts[i] ?? 0;
    const first = FIRST_KNEX_WITH_CREDENTIAL[i] as number;
    if (part > first) return;
    if (part < first) {
      throw new EntraAuthError(
        "INVALID_SETTING",
        `knex ${version} does not pass \`credential\` to tedious for client "mssql"; Microsoft Entra sign-in needs knex 3.3.0 or later.`,
        {
          hint: "Upgrade knex: npm install knex@^3.3.0 (clients pg and mysql2 work with knex 3.0.1 and later).",
        },
      );
    }
  }
}

function installedKnexVersion(): string | undefined {
  try {
    return (createRequire(import.meta.url)("knex/package.json") as { version?: string }).version;
  } catch {
    return undefined;
  }
}

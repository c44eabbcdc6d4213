import {
  assertSecureTls,
  EntraAuthError,
  type EntraOptions,
  type EntraTarget,
  resolveEntraTarget,
} from "@org/entra-core";
import type postgres from "postgres";
import { createSocketFactory, type ParsedPostgresOptions, socketFactories } from "./create-socket-factory.js";
import { parsePostgresUrl } from "./parse-postgres-url.js";
import { createPasswordHook } from "./postgres-sign-in.js";
import { resolvePostgresTls } from "./resolve-postgres-tls.js";

/** Custom types of a postgres.js config, as `postgres.Options<T>` takes them. */
export type PostgresTypes = Record<string, postgres.PostgresType>;

/**
 * Wires Microsoft Entra authentication into postgres.js (`postgres`) options: every new physical
 * connection signs in with a currently valid access token, fetched once and shared by every `sql`
 * instance (and pg pool) in the process, refreshed ahead of expiry while a connection is open
 * (`sql.end()` stops that).
 *
 * - Give it your postgres.js options or a connection URL (which must not contain a password;
 *   query parameters are read as postgres.js reads them). `host`, `port`, `database` and `user`
 *   default to the Service Connector variables (`AZURE_POSTGRESQL_HOST`, `_PORT`, `_DATABASE`,
 *   `_USER`); the user name then falls back to `options.username` and finally to the token's
 *   claims (managed identity name, UPN).
 * - TLS is on and verified, chain and host name. The returned options carry a `socket` function
 *   that opens each connection and its TLS itself, and checks the live connection again before
 *   the token is sent, so they say `ssl: false`: postgres.js must not wrap that socket again. Your
 *   `ssl` (`true`, `"require"`, `"verify-ca"`, `"verify-full"`, or `{ ca, servername, ... }`) and a
 *   URL's `sslmode` mean verified TLS: `"require"` too, which in libpq and postgres.js skips the
 *   certificate check. `ssl: false`, `"disable"`, `"allow"`, `"prefer"`, `"no-verify"`,
 *   `rejectUnauthorized: false`, a `checkServerIdentity` of your own, `AZURE_POSTGRESQL_SSL=false`,
 *   a Unix socket `path` and a process with `NODE_TLS_REJECT_UNAUTHORIZED=0` throw `EntraAuthError`
 *   (`INSECURE_TRANSPORT`) unless `allowInsecure: true`.
 * - When the server rejects a token, the error postgres.js raises keeps PostgreSQL's message and
 *   code, with `[@org/postgres-entra <CODE>] <what to change>` appended; an expired or invalid
 *   token is dropped so the next connection fetches a fresh one.
 *
 * @example
 * ```ts
 * import postgres from "postgres";
 * import { withEntra } from "@org/postgres-entra";
 *
 * const sql = postgres(withEntra({ host: "myserver.postgres.database.azure.com", database: "app" }));
 * const [{ user }] = await sql`select current_user as user`;
 * ```
 *
 * @param urlOrOptions - Your postgres.js options, or a `postgres://user@host:5432/database?...`
 *   URL. Defaults to `{}` (Service Connector variables).
 * @param options - Credential, username and refresh options. The credential defaults to `DefaultAzureCredential`.
 * @returns New postgres.js options: yours (the URL's fields), host, port, database and user
 *   resolved, `password` (the token hook), `socket` (the verified connection) and `ssl: false`.
 *   Pass them to `postgres(...)` as they are; to add options, spread them first:
 *   `postgres({ ...withEntra(url), max: 5 })`.
 * @throws EntraAuthError `INSECURE_TRANSPORT`, or `INVALID_SETTING` (a password in the options or
 *   URL, a malformed URL or `AZURE_POSTGRESQL_*` variable), before any I/O.
 */
// biome-ignore lint/complexity/noBannedTypes: `{}` is postgres.js's own default for its custom types.
export function withEntra<T extends PostgresTypes = {}>(
  urlOrOptions?: string | postgres.Options<T>,
  options: EntraOptions = {},
): postgres.Options<T> {
  const url = typeof urlOrOptions === "string" ? parsePostgresUrl(urlOrOptions) : undefined;
  const given: Record<string, unknown> = url ? url.options : { ...((urlOrOptions ?? {}) as object) };
  if (socketFactories.has(given.socket as object)) {
    throw new EntraAuthError(
      "INVALID_SETTING",
      "These postgres.js options were already prepared by withEntra.",
      {
        hint: "Call withEntra once, on your own options, and pass its result to postgres(...).",
      },
    );
  }
  const {
    hostname,
    host = hostname,
    username,
    user = username,
    db,
    database = db,
    password,
    pass,
    ssl,
    socket: transport,
    sslnegotiation,
    ...rest
  } = given;
  if ((typeof password === "string" && password !== "") || (typeof pass === "string" && pass !== "")) {
    throw new EntraAuthError("INVALID_SETTING", "The postgres.js options have a static password.", {
      hint: "Remove `password`: @org/postgres-entra supplies a fresh Entra access token for each connection.",
    });
  }

  const target = resolveEntraTarget(
    "postgresql",
    {
      host: firstHost(host),
      port: typeof given.port === "number" ? given.port : undefined,
      database: typeof database === "string" ? database : undefined,
      user: typeof user === "string" ? user : undefined,
    },
    // Warm start only once the config passed the checks below: a refused config fetches no token.
    { ...options, warmStart: false },
  );
  const { value, setting } = target.tls(
    url ? url.ssl : ssl,
    url?.ssl !== undefined ? "sslmode in the connection URL" : "ssl",
  );
  const tls = resolvePostgresTls(value, setting, target.allowInsecure);
  if (rest.path || (typeof host === "string" && host.includes("/"))) {
    assertSecureTls(
      {
        setting: "path",
        problem:
          "connects through a Unix socket, where the server certificate cannot be checked against a host name",
        fix: "Connect to the server's host name over TCP (Azure Database for PostgreSQL takes no Unix socket connections).",
      },
      { allowInsecure: target.allowInsecure },
    );
  }

  if (options.warmStart !== false && !options.tokenProvider) {
    // A failure is logged by the provider and moves its retry schedule; never an unhandled rejection.
    target.provider.getToken().catch(() => {});
  }

  const prepared: Record<string, unknown> = {
    ...rest,
    ...defined({
      host: host ?? target.host,
      port: rest.port ?? target.port,
      database: target.database,
      user: target.user,
    }),
    ssl: false,
    password: createPasswordHook(target),
    socket: createSocketFactory({
      target,
      tls,
      sslnegotiation,
      transport:
        typeof transport === "function" ? (transport as (o: ParsedPostgresOptions) => unknown) : undefined,
      learnDatabase: learnsDatabase(target),
    }),
  };
  return prepared as postgres.Options<T>;
}

/** The first host of a postgres.js `host` (a name, a `h1:5432,h2` list or an array), for the scope. */
function firstHost(host: unknown): string | undefined {
  const first = Array.isArray(host) ? host[0] : typeof host === "string" ? host.split(",")[0] : undefined;
  if (typeof first !== "string" || first === "") return undefined;
  // `host:port` within a list; an IPv6 address has more than one colon and is left as is.
  return first.split(":").length === 2 ? first.split(":")[0] : first;
}

/**
 * Whether the database must be the user name read from the token: libpq's default when no
 * database is given anywhere, where postgres.js would take the operating system's user name.
 */
function learnsDatabase(target: EntraTarget): boolean {
  return target.user === undefined && target.database === undefined && !process.env.PGDATABASE;
}

function defined(record: Record<string, unknown>): Record<string, unknown> {
  return Object.fromEntries(Object.entries(record).filter(([, value]) => value !== undefined));
}

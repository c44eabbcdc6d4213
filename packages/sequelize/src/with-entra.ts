import {
  assertSecureTls,
  EntraAuthError,
  type EntraOptions,
  type EntraTarget,
  resolveEntraTarget,
  resolveMariadbSsl,
} from "@org/entra-core";
import { prepareMysql2Connection } from "@org/mysql2-entra";
import { preparePgConnection } from "@org/pg-entra";
import { type EntraAuthentication, withEntra as withEntraTedious } from "@org/tedious-entra";
import type { Options } from "sequelize";
import {
  type ConnectConfig,
  chainBeforeConnect,
  ownHook,
  setHiddenPassword,
} from "./chain-before-connect.js";
import { createMariadbDriver, mariadbLoader } from "./mariadb-driver.js";
import { createTediousDriver, createTediousValidate, loadTedious } from "./tedious-driver.js";

/** The Sequelize options shape `withEntra` accepts and returns: Sequelize's own `Options`. */
export type SequelizeEntraOptions = Options;

type DialectOptions = Record<string, unknown>;

/**
 * Wires Microsoft Entra authentication into Sequelize options: every new physical connection
 * Sequelize opens (pooled connections and its one-off version probe alike) presents a currently
 * valid access token, fetched once and shared by every pool in the process, refreshed ahead of
 * expiry. Use it wherever Sequelize options are built, including a Sequelize CLI config file.
 *
 * Per dialect (`options.dialect` is required):
 * - `postgres`: `password` becomes the async password function of `@org/pg-entra`, which pg calls
 *   for every new connection; `dialectOptions.ssl` defaults to `true` (verified TLS).
 * - `mysql` (mysql2): `dialectOptions.authPlugins.mysql_clear_password` from `@org/mysql2-entra`
 *   answers the server's switch to cleartext with the token; `dialectOptions.ssl` defaults to
 *   `{ verifyIdentity: true }`.
 * - `mariadb` (the mariadb connector, which has no password hook): a `hooks.beforeConnect` hook
 *   sets `config.password` to a fresh token (hidden from `util.inspect`) right before each
 *   connection, after your own `beforeConnect` hooks; `dialectModule` becomes a thin wrapper of the
 *   connector that recognises the server's token errors and opens each connection through a
 *   guard that refuses servers claiming to be MariaDB when the connector would trust any
 *   certificate of theirs (mariadb < 3.4.7, 3.5.0-3.5.2). `dialectOptions.ssl` defaults to
 *   `{ rejectUnauthorized: true }`.
 * - `mssql` (tedious, Azure SQL): `dialectOptions.authentication` becomes `@org/tedious-entra`'s
 *   `{ type: "token-credential", options: { credential } }` (tedious calls the credential at every
 *   login), set again by a `hooks.beforeConnect` hook on Sequelize's own copy of the config (its
 *   lodash `cloneDeep` would break the credential); `dialectOptions.options` gets
 *   `encrypt: "strict"` and `trustServerCertificate: false`, replacing Sequelize's insecure default
 *   `trustServerCertificate: true`; `dialectModule` becomes tedious with a `Connection` that calls
 *   `watchEntraErrors` and learns when its session token expires, and `pool.validate` (yours still
 *   runs) has the pool retire a session shortly before its token expires, so queries never meet
 *   Azure SQL's mid-session error 37396 (a session held past expiry anyway, e.g. in a long
 *   transaction, gets 37396 explained and is not reused). A `username` (SQL login) or another
 *   authentication type is refused.
 * - every other dialect is refused with `EntraAuthError`.
 *
 * `host`, `port`, `database` and `username` default to the Service Connector variables
 * (`AZURE_POSTGRESQL_*` for postgres, `AZURE_MYSQL_*` for mysql and mariadb, `AZURE_SQL_*` for
 * mssql, which takes no username); the username then falls back to `options.username` and finally
 * to the token's claims (managed identity name, UPN), read when a connection opens. A config that disables TLS or certificate verification throws
 * `EntraAuthError` (`INSECURE_TRANSPORT`) before any I/O unless `allowInsecure: true`. When the
 * server rejects a token as expired or invalid, the cached token is dropped so the next connection
 * fetches a fresh one, and the error Sequelize throws says what to change.
 *
 * @example
 * ```ts
 * import { Sequelize } from "sequelize";
 * import { withEntra } from "@org/sequelize-entra";
 *
 * const sequelize = new Sequelize(
 *   withEntra({ dialect: "postgres", host: "myserver.postgres.database.azure.com", database: "app" }),
 * );
 * await sequelize.authenticate();
 * ```
 *
 * @param sequelizeOptions - Your Sequelize `Options` (with `dialect`). Defaults to `{}`, which is
 *   refused because Sequelize needs a dialect.
 * @param options - Credential, username and refresh options (the credential defaults to `DefaultAzureCredential`).
 * @returns A copy of `sequelizeOptions` with `host`, `port`, `database`, `username` and the
 *   dialect's auth and TLS settings set; every other field is passed through untouched.
 * @throws EntraAuthError `INSECURE_TRANSPORT`, `INVALID_SETTING` (unsupported dialect, static
 *   password, conflicting auth settings) or `MISSING_SETTING` (no dialect), before any I/O.
 */
export function withEntra<T extends SequelizeEntraOptions = SequelizeEntraOptions>(
  sequelizeOptions?: T,
  options: EntraOptions = {},
): T & SequelizeEntraOptions {
  const input = (sequelizeOptions ?? {}) as T;
  const dialect = String(input.dialect ?? "");
  refuseStaticPasswords(input);
  switch (dialect) {
    case "postgres":
    case "postgresql":
      return forPostgres(input, options);
    case "mysql":
      return forMysql(input, options);
    case "mariadb":
      return forMariadb(input, options);
    case "mssql":
      return forMssql(input, options);
    case "":
      throw new EntraAuthError("MISSING_SETTING", "The Sequelize options have no dialect.", {
        hint: 'Pass dialect: "postgres", "mysql", "mariadb" or "mssql" (Sequelize requires one).',
      });
    default:
      throw new EntraAuthError(
        "INVALID_SETTING",
        `Entra authentication is not available for the Sequelize dialect "${dialect}".`,
        {
          hint: 'Use dialect "postgres" (Azure Database for PostgreSQL), "mysql" / "mariadb" (Azure Database for MySQL) or "mssql" (Azure SQL).',
        },
      );
  }
}

function forPostgres<T extends SequelizeEntraOptions>(input: T, options: EntraOptions): T {
  const dialectOptions = { ...(input.dialectOptions as DialectOptions | undefined) };
  const { config: pgConfig, target } = preparePgConnection(
    defined({
      host: nonEmpty(input.host),
      port: input.port,
      database: nonEmpty(input.database),
      user: nonEmpty(input.username),
      ssl: dialectOptions.ssl as boolean | undefined,
    }),
    options,
    { sslSetting: "dialectOptions.ssl" },
  );
  const result = {
    ...input,
    ...defined({
      host: pgConfig.host,
      port: pgConfig.port,
      database: pgConfig.database,
      username: pgConfig.user,
    }),
    // Sequelize's postgres dialect passes `password` to pg as is (`_.pick`), and pg calls a
    // function password for every new connection. Sequelize's types only say `string`.
    password: pgConfig.password as unknown as string,
    dialectOptions: { ...dialectOptions, ssl: pgConfig.ssl },
  } as T;
  if (target.user === undefined) {
    // pg sends the user name before the password; Sequelize builds the pg Client itself, so the
    // name is read from the token in `beforeConnect`.
    result.hooks = chainBeforeConnect(input.hooks, usernameFromTokenHook(target));
  }
  return result;
}

function forMysql<T extends SequelizeEntraOptions>(input: T, options: EntraOptions): T {
  const dialectOptions = { ...(input.dialectOptions as DialectOptions | undefined) };
  // Sequelize spreads `dialectOptions` over the mysql2 config, so mysql2-entra sees exactly what
  // mysql2 will get (and refuses a password or a conflicting auth hook in it).
  const { config, target, userLearningStream } = prepareMysql2Connection(
    {
      ...dialectOptions,
      ...defined({
        host: nonEmpty(input.host) ?? nonEmpty(dialectOptions.host as string | undefined),
        port: input.port ?? (dialectOptions.port as number | undefined),
        database: nonEmpty(input.database) ?? nonEmpty(dialectOptions.database as string | undefined),
        user: nonEmpty(input.username) ?? nonEmpty(dialectOptions.user as string | undefined),
      }),
    },
    options,
    { sslSetting: "dialectOptions.ssl" },
  );
  const { host, port, database, user, ...driverOptions } = config;
  return {
    ...input,
    ...defined({ host, port, database, username: user }),
    dialectOptions:
      target.user === undefined ? { ...driverOptions, stream: userLearningStream() } : driverOptions,
  } as T;
}

function forMariadb<T extends SequelizeEntraOptions>(input: T, options: EntraOptions): T {
  const dialectOptions = { ...(input.dialectOptions as DialectOptions | undefined) };
  refuseRestrictedAuth(dialectOptions.restrictedAuth);
  const target = resolveEntraTarget(
    "mysql",
    {
      host: nonEmpty(input.host),
      port: input.port,
      database: nonEmpty(input.database),
      user: nonEmpty(input.username),
    },
    options,
  );
  const tls = target.tls(dialectOptions.ssl, "dialectOptions.ssl");
  const { ssl, finding } = resolveMariadbSsl(tls.value, tls.setting);
  assertSecureTls(finding, { allowInsecure: target.allowInsecure });

  const load = mariadbLoader(input.dialectModule, input.dialectModulePath);
  return {
    ...input,
    ...defined({ host: target.host, port: target.port, database: target.database, username: target.user }),
    dialectOptions: { ...dialectOptions, ssl },
    // Sequelize loads `dialectModulePath` before `dialectModule`; the wrapper loads it instead.
    dialectModulePath: undefined,
    dialectModule: createMariadbDriver(load, target),
    hooks: chainBeforeConnect(input.hooks, tokenHook(target)),
  } as T;
}

function forMssql<T extends SequelizeEntraOptions>(input: T, options: EntraOptions): T {
  const username = nonEmpty(input.username);
  if (username !== undefined) {
    throw new EntraAuthError(
      "INVALID_SETTING",
      'The Sequelize options for dialect "mssql" have a `username`, which selects a SQL login.',
      {
        hint: "Remove `username`: with Microsoft Entra the access token identifies the principal (create its user with CREATE USER [<name>] FROM EXTERNAL PROVIDER).",
      },
    );
  }
  const dialectOptions = { ...(input.dialectOptions as DialectOptions | undefined) };
  const given = { ...(dialectOptions.options as Record<string, unknown> | undefined) };
  // Sequelize builds `options: { port, database, trustServerCertificate: true }` and assigns
  // `dialectOptions.options` over it; tedious-entra sees the merged view and secures it.
  const tedious = withEntraTedious(
    {
      server: nonEmpty(input.host),
      authentication: dialectOptions.authentication as never,
      options: {
        ...defined({
          port: given.instanceName === undefined ? toPort(input.port) : undefined,
          database: nonEmpty(input.database),
        }),
        ...given,
      },
    },
    options,
  );
  const { port, database, ...tediousOptions } = tedious.options;
  const authentication = tedious.authentication;
  const load = loadTedious(input.dialectModule, input.dialectModulePath);
  return {
    ...input,
    ...defined({ host: tedious.server, port, database }),
    dialectOptions: {
      ...dialectOptions,
      authentication,
      options: { ...tediousOptions, ...defined({ port: given.port, database: given.database }) },
    },
    // Sequelize loads `dialectModulePath` before `dialectModule`; the wrapper loads it instead.
    dialectModulePath: undefined,
    dialectModule: createTediousDriver(load),
    hooks: chainBeforeConnect(input.hooks, authenticationHook(authentication)),
    pool: { ...input.pool, validate: createTediousValidate(input.pool?.validate) },
  } as T;
}

/**
 * Sequelize's connection manager works on `_.cloneDeep` of the options, which copies the Entra
 * credential without its private state; put the real `authentication` back before each connection.
 */
function authenticationHook(authentication: EntraAuthentication): (config: ConnectConfig) => Promise<void> {
  return ownHook(async function entraAuthenticationBeforeConnect(config: ConnectConfig) {
    config.dialectOptions = { ...(config.dialectOptions as DialectOptions | undefined), authentication };
  });
}

function toPort(value: unknown): number | undefined {
  if (value === undefined || value === null || value === "") return undefined;
  const port = typeof value === "number" ? value : Number.parseInt(String(value), 10);
  return Number.isNaN(port) ? undefined : port;
}

/** The mariadb hook: a fresh token as `config.password` (and the user name, if none) per connection. */
function tokenHook(target: EntraTarget): (config: ConnectConfig) => Promise<void> {
  return ownHook(async function entraBeforeConnect(config: ConnectConfig) {
    const { token } = await target.provider.getToken();
    if (!config.username) config.username = target.userFor(token);
    setHiddenPassword(config, token);
  });
}

/** The postgres hook: the user name read from the token when none is configured. */
function usernameFromTokenHook(target: EntraTarget): (config: ConnectConfig) => Promise<void> {
  return ownHook(async function entraUsernameBeforeConnect(config: ConnectConfig) {
    if (config.username) return;
    config.username = await target.resolveUser();
  });
}

function refuseStaticPasswords(input: SequelizeEntraOptions): void {
  const candidates: [string, unknown][] = [
    ["password", input.password],
    ["dialectOptions.password", (input.dialectOptions as DialectOptions | undefined)?.password],
  ];
  const replication = input.replication;
  if (replication) {
    const reads = replication.read ?? [];
    for (const [index, read] of (Array.isArray(reads) ? reads : [reads]).entries()) {
      candidates.push([`replication.read[${index}].password`, read?.password]);
    }
    candidates.push(["replication.write.password", replication.write?.password]);
  }
  for (const [setting, value] of candidates) {
    if (typeof value === "string" && value !== "") {
      throw new EntraAuthError("INVALID_SETTING", `The Sequelize options have a static ${setting}.`, {
        hint: `Remove \`${setting}\`: @org/sequelize-entra supplies a fresh Entra access token for each connection.`,
      });
    }
  }
}

function refuseRestrictedAuth(value: unknown): void {
  if (value === undefined || value === null) return;
  const plugins = Array.isArray(value) ? value.map(String) : String(value).split(",");
  if (plugins.map((plugin) => plugin.trim()).includes("mysql_clear_password")) return;
  throw new EntraAuthError(
    "INVALID_SETTING",
    "dialectOptions.restrictedAuth does not allow mysql_clear_password.",
    {
      hint: "Add mysql_clear_password to restrictedAuth (or remove it): Azure sends the Entra token with that plugin, and only over TLS.",
    },
  );
}

function nonEmpty<V>(value: V | "" | null | undefined): V | undefined {
  return value === "" || value === null ? undefined : value;
}

/** Drops `undefined` fields, so that they do not override Sequelize's own defaults when spread. */
function defined<R extends Record<string, unknown>>(record: R): Partial<R> {
  return Object.fromEntries(Object.entries(record).filter(([, value]) => value !== undefined)) as Partial<R>;
}

import {
  describeServerAuthError,
  EntraAuthError,
  type EntraAuthErrorCode,
  type EntraOptions,
} from "@org/entra-core";
import { type MssqlEntraConfig, withEntra } from "@org/mssql-entra";
import type { PrismaMssql } from "@prisma/adapter-mssql";
import type { SqlDriverAdapter, SqlDriverAdapterFactory } from "@prisma/driver-adapter-utils";
import { ErrorMappingAdapter } from "./error-mapping-adapter.js";
import { loadPeer } from "./load-peer.js";

/** Options of `@prisma/adapter-mssql` (`schema`, `onPoolError`, `onConnectionError`), passed through unchanged. */
export type PrismaMssqlOptions = NonNullable<ConstructorParameters<typeof PrismaMssql>[1]>;

/**
 * `createEntraAdapter` config for Azure SQL: an mssql (node-mssql) `config` plus the provider.
 * `server` may be left out when `AZURE_SQL_SERVER` is set.
 */
export type EntraSqlServerAdapterConfig = MssqlEntraConfig & {
  /** Selects `@prisma/adapter-mssql`. */
  readonly provider: "sqlserver";
  /** Options for `new PrismaMssql(config, adapterOptions)`. */
  readonly adapterOptions?: PrismaMssqlOptions;
};

/**
 * `new PrismaMssql(withEntra(config))`: adapter-mssql passes the config to `new sql.ConnectionPool`,
 * mssql builds a tedious config for every pooled connection, and tedious calls the Entra
 * credential (`authentication: { type: "token-credential" }`) at every login. TLS is
 * `encrypt: "strict"` with `trustServerCertificate: false` unless set otherwise (insecure values are
 * refused unless `allowInsecure`). The connection-string form of adapter-mssql is not used: its
 * `authentication=DefaultAzureCredential` builds a new credential for every login.
 */
export function createEntraMssqlAdapter(
  config: EntraSqlServerAdapterConfig,
  options: EntraOptions,
): EntraMssqlAdapterFactory {
  const { provider: _provider, adapterOptions, ...mssqlConfig } = config;
  const wired = withEntra(mssqlConfig, options);
  const { PrismaMssql: Factory } = loadPeer<typeof import("@prisma/adapter-mssql")>(
    "@prisma/adapter-mssql",
    "sqlserver",
  );
  return new EntraMssqlAdapterFactory(new Factory(wired as never, adapterOptions));
}

/**
 * The `@prisma/adapter-mssql` factory with Entra auth. It delegates to `PrismaMssql` and only changes
 * errors: a login the server refused (token expired or invalid, unknown principal) becomes an
 * `EntraAuthError` with Azure SQL's message, the reason and what to change, instead of a bare
 * mssql `ConnectionError` or Prisma's `AuthenticationFailed`. The expired token has already been
 * dropped by `@org/mssql-entra`, so the next connection fetches a fresh one.
 */
export class EntraMssqlAdapterFactory implements SqlDriverAdapterFactory {
  /** Prisma's provider name for SQL Server. */
  readonly provider = "sqlserver" as const;
  /** The wrapped adapter's name (`@prisma/adapter-mssql`). */
  readonly adapterName: string;
  readonly #inner: PrismaMssql;

  /** Use {@link createEntraAdapter} with `provider: "sqlserver"`. */
  constructor(inner: PrismaMssql) {
    this.#inner = inner;
    this.adapterName = inner.adapterName;
  }

  /** Creates the `sql.ConnectionPool` and connects it (one login, to check the settings). */
  async connect(): Promise<SqlDriverAdapter> {
    return wrapAdapter(await mapAuthError(this.#inner.connect()));
  }
}

/**
 * Wraps an adapter-mssql adapter so that its refused logins become `EntraAuthError`;
 * `executeScript` is deferred so that a synchronous throw is mapped too.
 */
function wrapAdapter(inner: SqlDriverAdapter): SqlDriverAdapter {
  return new ErrorMappingAdapter(inner, {
    provider: "sqlserver",
    mapError: mapAuthError,
    fallbackConnectionInfo: { supportsRelationJoins: false },
    deferExecuteScript: true,
  });
}

/** An error as mssql, tedious and Prisma's `DriverAdapterError` shape it. */
interface ChainedError {
  readonly message?: unknown;
  readonly entraCode?: unknown;
  readonly originalError?: unknown;
  readonly cause?: { readonly originalMessage?: unknown } & ChainedError;
}

/**
 * Rethrows a refused login as `EntraAuthError`. `@org/mssql-entra` has already explained it
 * (`entraCode` on mssql's error or on tedious's `originalError`, message with the reason);
 * adapter-mssql turns query-time login failures into `DriverAdapterError` with the server's text
 * as `cause.originalMessage`, which is recognised by its message.
 */
async function mapAuthError<T>(work: Promise<T>): Promise<T> {
  try {
    return await work;
  } catch (error) {
    const chained = error as ChainedError | undefined;
    const original = chained?.cause?.originalMessage;
    const message = typeof original === "string" ? original : chained?.message;
    if (typeof message !== "string") throw error;
    const known = [chained?.entraCode, (chained?.originalError as ChainedError | undefined)?.entraCode].find(
      (code): code is EntraAuthErrorCode => typeof code === "string",
    );
    const described = describeServerAuthError(message, "sqlserver");
    const code = known ?? described?.code;
    if (code === undefined) throw error;
    // @org/tedious-entra already appended the reason and what to change to the server's message.
    const explained = /\[@org\/tedious-entra /.test(message);
    const text = explained ? message : `${message} [@org/prisma-entra ${code}]`;
    throw new EntraAuthError(code, text, {
      hint: explained ? "" : (described?.hint ?? ""),
      cause: error,
    });
  }
}

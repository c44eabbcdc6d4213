import type {
  ConnectionInfo,
  IsolationLevel,
  SqlDriverAdapter,
  SqlQuery,
  SqlResultSet,
  Transaction,
} from "@prisma/driver-adapter-utils";

/** Rethrows an error of `work` in another shape (for example as `EntraAuthError`), or resolves as `work` does. */
export type MapError = <T>(work: Promise<T>) => Promise<T>;

/** What an {@link ErrorMappingAdapter} adds to the adapter it wraps. */
export interface ErrorMappingAdapterOptions<P extends SqlDriverAdapter["provider"]> {
  /** Prisma's provider name reported by the wrapper. Required; there is no default. */
  readonly provider: P;
  /** Applied to `queryRaw`, `executeRaw`, `executeScript` and `startTransaction`. Required; there is no default. */
  readonly mapError: MapError;
  /** Returned by `getConnectionInfo` when the wrapped adapter has none. Required; there is no default. */
  readonly fallbackConnectionInfo: ConnectionInfo;
  /**
   * Calls `executeScript` of the wrapped adapter in a later microtask, so an error it throws
   * synchronously is mapped and rejects instead of being thrown. Defaults to `false`.
   */
  readonly deferExecuteScript?: boolean;
}

/**
 * A driver adapter that delegates every method to `inner` and passes the promises of its queries,
 * scripts and transaction starts through `mapError`. Transactions are returned unwrapped and
 * `dispose` is not mapped.
 */
export class ErrorMappingAdapter<P extends SqlDriverAdapter["provider"]> implements SqlDriverAdapter {
  /** Prisma's provider name, from the options. */
  readonly provider: P;
  /** The wrapped adapter's name (`inner.adapterName`). */
  readonly adapterName: string;
  readonly #inner: SqlDriverAdapter & { underlyingDriver?(): unknown };
  readonly #mapError: MapError;
  readonly #fallbackConnectionInfo: ConnectionInfo;
  readonly #deferExecuteScript: boolean;

  /** Wraps `inner`. */
  constructor(inner: SqlDriverAdapter, options: ErrorMappingAdapterOptions<P>) {
    this.#inner = inner;
    this.provider = options.provider;
    this.adapterName = inner.adapterName;
    this.#mapError = options.mapError;
    this.#fallbackConnectionInfo = options.fallbackConnectionInfo;
    this.#deferExecuteScript = options.deferExecuteScript ?? false;
  }

  queryRaw(query: SqlQuery): Promise<SqlResultSet> {
    return this.#mapError(this.#inner.queryRaw(query));
  }

  executeRaw(query: SqlQuery): Promise<number> {
    return this.#mapError(this.#inner.executeRaw(query));
  }

  executeScript(script: string): Promise<void> {
    return this.#mapError(
      this.#deferExecuteScript
        ? Promise.resolve().then(() => this.#inner.executeScript(script))
        : this.#inner.executeScript(script),
    );
  }

  startTransaction(isolationLevel?: IsolationLevel): Promise<Transaction> {
    return this.#mapError(this.#inner.startTransaction(isolationLevel));
  }

  getConnectionInfo(): ConnectionInfo {
    return this.#inner.getConnectionInfo?.() ?? this.#fallbackConnectionInfo;
  }

  dispose(): Promise<void> {
    return this.#inner.dispose();
  }

  /** The wrapped adapter's driver (a `pg.Pool`, a `sql.ConnectionPool`, ...); `undefined` when it has none. */
  underlyingDriver(): unknown {
    return this.#inner.underlyingDriver?.();
  }
}

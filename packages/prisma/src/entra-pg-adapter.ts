import { describeServerAuthError, EntraAuthError, type EntraOptions } from "@org/entra-core";
import { type PgEntraConfig, withEntra } from "@org/pg-entra";
import type { PrismaPg } from "@prisma/adapter-pg";
import type { SqlDriverAdapter, SqlMigrationAwareDriverAdapterFactory } from "@prisma/driver-adapter-utils";
import { ErrorMappingAdapter } from "./error-mapping-adapter.js";
import { loadPeer } from "./load-peer.js";

/** Options of `@prisma/adapter-pg` (`schema`, `onPoolError`, ...), passed through unchanged. */
export type PrismaPgOptions = NonNullable<ConstructorParameters<typeof PrismaPg>[1]>;

/** `createEntraAdapter` config for Azure Database for PostgreSQL: a pg `PoolConfig` plus the provider. */
export interface EntraPostgresAdapterConfig extends PgEntraConfig {
  /** Selects `@prisma/adapter-pg`. */
  readonly provider: "postgresql";
  /** Options for `new PrismaPg(config, adapterOptions)`. */
  readonly adapterOptions?: PrismaPgOptions;
}

/**
 * `new PrismaPg(withEntra(config))`: adapter-pg creates its own `pg.Pool` from the config (also for
 * the shadow database, by spreading it), so the enumerable `password` function and the
 * username-resolving `Client` from `@org/pg-entra` reach every pool it creates. An external
 * `pg.Pool` is deliberately not used: adapter-pg would read its `options`, where pg-pool hides the
 * password as non-enumerable, and the shadow-database pool would lose it.
 */
export function createEntraPgAdapter(
  config: EntraPostgresAdapterConfig,
  options: EntraOptions,
): EntraPgAdapterFactory {
  const { provider: _provider, adapterOptions, ...pgConfig } = config;
  const { PrismaPg: Factory } = loadPeer<typeof import("@prisma/adapter-pg")>(
    "@prisma/adapter-pg",
    "postgresql",
  );
  return new EntraPgAdapterFactory(new Factory(withEntra(pgConfig, options), adapterOptions));
}

/**
 * The `@prisma/adapter-pg` factory with Entra auth. It delegates to `PrismaPg` and only changes
 * errors: adapter-pg turns a refused login into a bare `DatabaseAccessDenied`, so a refused token
 * becomes an `EntraAuthError` with the server's message, the reason and what to change instead.
 */
export class EntraPgAdapterFactory implements SqlMigrationAwareDriverAdapterFactory {
  /** Prisma's provider name for PostgreSQL. */
  readonly provider = "postgres" as const;
  /** The wrapped adapter's name (`@prisma/adapter-pg`). */
  readonly adapterName: string;
  readonly #inner: PrismaPg;

  /** Use {@link createEntraAdapter} with `provider: "postgresql"`. */
  constructor(inner: PrismaPg) {
    this.#inner = inner;
    this.adapterName = inner.adapterName;
  }

  /** Creates the adapter (and its `pg.Pool`); connections open on the first query. */
  async connect(): Promise<SqlDriverAdapter> {
    return wrapAdapter(await this.#inner.connect());
  }

  /** Creates a shadow database for `prisma migrate dev` and an adapter connected to it. */
  async connectToShadowDb(): Promise<SqlDriverAdapter> {
    return wrapAdapter(await mapAuthError(this.#inner.connectToShadowDb()));
  }
}

/** Wraps an adapter-pg adapter so that its refused logins become `EntraAuthError`. */
function wrapAdapter(inner: SqlDriverAdapter): SqlDriverAdapter {
  return new ErrorMappingAdapter(inner, {
    provider: "postgres",
    mapError: mapAuthError,
    fallbackConnectionInfo: { supportsRelationJoins: true },
  });
}

/** Rethrows a refused login (kept by adapter-pg as `cause.originalMessage`) as `EntraAuthError`. */
async function mapAuthError<T>(work: Promise<T>): Promise<T> {
  try {
    return await work;
  } catch (error) {
    const original = (error as { cause?: { originalMessage?: unknown } } | undefined)?.cause?.originalMessage;
    const message = typeof original === "string" ? original : (error as Error | undefined)?.message;
    const described =
      typeof message === "string" ? describeServerAuthError(message, "postgresql") : undefined;
    if (!described || typeof message !== "string") throw error;
    // @org/pg-entra already appended the reason and what to change to pg's message.
    const text = message.includes(described.code)
      ? message
      : `${message} [@org/prisma-entra ${described.code}]`;
    throw new EntraAuthError(described.code, text, {
      hint: message.includes(described.hint) ? "" : described.hint,
      cause: error,
    });
  }
}

import {
  holdWhileConnected,
  sessionExpiresSoon,
  type TediousEntraConfig,
  trackSessionExpiry,
  watchEntraErrors,
  withEntra,
} from "@org/tedious-entra";
import { Kysely, MssqlDialect } from "kysely";
import * as tarn from "tarn";
import * as tedious from "tedious";
import type { Database } from "./database.js";

/**
 * A tedious `Connection` for Kysely's `MssqlDialect`, built in `connectionFactory` from one
 * `withEntra` config. Each one is watched (`watchEntraErrors`: a refused login says why and what to
 * change, an expired token is dropped), holds the token provider while open (`holdWhileConnected`:
 * the token is refreshed ahead of expiry) and knows when its session's token expires
 * (`trackSessionExpiry`).
 *
 * With `resetConnectionsOnRelease: true`, Kysely calls `reset()` each time it releases a connection
 * to its pool. Here that call retires a session whose token expires soon (`sessionExpiresSoon`):
 * it closes the connection, Kysely's validation (on by default) refuses it at the next checkout,
 * and the pool opens a new session with a fresh token, before Azure SQL would fail a query on the
 * old one with error 37396. Other sessions are kept as they are, with no round trip (Kysely's
 * default, which does not reset sessions either).
 */
export class EntraConnection extends tedious.Connection {
  constructor(config: tedious.ConnectionConfiguration) {
    super(config);
    holdWhileConnected(trackSessionExpiry(watchEntraErrors(this)));
  }

  override reset(callback: (error: Error | null | undefined) => void): void {
    if (!this.closed && sessionExpiresSoon(this)) this.close();
    callback(null);
  }
}

/**
 * Kysely on Azure SQL Database: `MssqlDialect` whose `connectionFactory` builds an
 * {@link EntraConnection} from one `withEntra` config (a cached `token-credential`, TDS 8 strict TLS).
 *
 * - `withEntra` runs once, here, not in the factory: an insecure config throws now, and every
 *   connection shares one credential.
 * - `propagateCreateError: true`: a refused login fails the query at once (tarn's default retries
 *   it every 200 ms until `acquireTimeoutMillis`, 30 s).
 * - `resetConnectionsOnRelease: true` lets {@link EntraConnection} retire sessions before their
 *   token expires.
 *
 * @param config - Your tedious `ConnectionConfiguration`. Server, port and database default to the
 *   Service Connector variables (`AZURE_SQL_*`).
 */
export function createMssqlDb(config: TediousEntraConfig = {}): Kysely<Database> {
  const entraConfig = withEntra(config);
  return new Kysely<Database>({
    dialect: new MssqlDialect({
      tarn: { ...tarn, options: { min: 0, max: 10, propagateCreateError: true } },
      tedious: { ...tedious, connectionFactory: () => new EntraConnection(entraConfig) },
      resetConnectionsOnRelease: true,
    }),
  });
}

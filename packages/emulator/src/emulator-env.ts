import type { EngineAddress } from "./emulator-engine.js";
import type { EmulatedIdentity } from "./resolve-identities.js";

/**
 * The variables an app process needs, ready to spread into `process.env` or a child's env: the
 * identity variables always, the `AZURE_POSTGRESQL_*`, `AZURE_MYSQL_*` and `AZURE_SQL_*` ones for
 * the engines that run.
 */
export interface EmulatorEnv {
  /** The App Service managed-identity endpoint, `{url}/msi/token` of the identity endpoint. */
  readonly IDENTITY_ENDPOINT: string;
  /** The `X-IDENTITY-HEADER` secret the identity endpoint expects. */
  readonly IDENTITY_HEADER: string;
  /** Pins `DefaultAzureCredential` to the managed identity, so no developer sign-in is tried. */
  readonly AZURE_TOKEN_CREDENTIALS: "ManagedIdentityCredential";
  /** The PEM file of the emulator's CA, so that Node.js trusts the engines' certificates. */
  readonly NODE_EXTRA_CA_CERTS: string;
  /** The PostgreSQL endpoint's host, when PostgreSQL runs. */
  readonly AZURE_POSTGRESQL_HOST?: string;
  /** The PostgreSQL endpoint's port, when PostgreSQL runs. */
  readonly AZURE_POSTGRESQL_PORT?: string;
  /** The PostgreSQL database, when PostgreSQL runs. */
  readonly AZURE_POSTGRESQL_DATABASE?: string;
  /** The default identity's name, the role it logs in as, when PostgreSQL runs. */
  readonly AZURE_POSTGRESQL_USER?: string;
  /** Always `"true"` (TLS), when PostgreSQL runs. */
  readonly AZURE_POSTGRESQL_SSL?: "true";
  /** The default identity's client ID when it is user-assigned and PostgreSQL runs. */
  readonly AZURE_POSTGRESQL_CLIENTID?: string;
  /** The MySQL endpoint's host, when MySQL runs. */
  readonly AZURE_MYSQL_HOST?: string;
  /** The MySQL endpoint's port, when MySQL runs. */
  readonly AZURE_MYSQL_PORT?: string;
  /** The MySQL database, when MySQL runs. */
  readonly AZURE_MYSQL_DATABASE?: string;
  /** The default identity's name, the user it logs in as, when MySQL runs. */
  readonly AZURE_MYSQL_USER?: string;
  /** Always `"true"` (TLS), when MySQL runs. */
  readonly AZURE_MYSQL_SSL?: "true";
  /** The default identity's client ID when it is user-assigned and MySQL runs. */
  readonly AZURE_MYSQL_CLIENTID?: string;
  /** The SQL Server endpoint's host, when SQL Server runs. */
  readonly AZURE_SQL_SERVER?: string;
  /** The SQL Server endpoint's port, when SQL Server runs. */
  readonly AZURE_SQL_PORT?: string;
  /** The SQL Server database, when SQL Server runs. */
  readonly AZURE_SQL_DATABASE?: string;
  /** Always `"azure-active-directory-default"`, as Service Connector sets it, when SQL Server runs. */
  readonly AZURE_SQL_AUTHENTICATIONTYPE?: "azure-active-directory-default";
  /** The default identity's client ID when it is user-assigned and SQL Server runs. */
  readonly AZURE_SQL_CLIENTID?: string;
  readonly [name: string]: string | undefined;
}

/** What {@link emulatorEnv} describes. */
export interface EmulatorEnvSources {
  /** `IDENTITY_ENDPOINT`. */
  readonly identityEndpoint: string;
  /** `IDENTITY_HEADER`. */
  readonly identityHeader: string;
  /** `NODE_EXTRA_CA_CERTS`: the file holding the CA. */
  readonly caFile: string;
  /** The identity apps use: the engines' `_USER`, and `_CLIENTID` when it is user-assigned. */
  readonly defaultIdentity: EmulatedIdentity;
  readonly postgres?: EngineAddress;
  readonly mysql?: EngineAddress;
  readonly sqlserver?: EngineAddress;
}

/**
 * The frozen {@link EmulatorEnv} for the running engines, with the Service Connector variable names
 * the adapters read.
 *
 * @example
 * emulatorEnv({ identityEndpoint, identityHeader, caFile, defaultIdentity, postgres }).AZURE_POSTGRESQL_SSL; // "true"
 */
export function emulatorEnv(sources: EmulatorEnvSources): EmulatorEnv {
  const { defaultIdentity, postgres, mysql, sqlserver } = sources;
  const env: Record<string, string> = {
    IDENTITY_ENDPOINT: sources.identityEndpoint,
    IDENTITY_HEADER: sources.identityHeader,
    AZURE_TOKEN_CREDENTIALS: "ManagedIdentityCredential",
    NODE_EXTRA_CA_CERTS: sources.caFile,
  };
  if (postgres) addOssrdbmsEnv(env, "AZURE_POSTGRESQL", postgres, defaultIdentity);
  if (mysql) addOssrdbmsEnv(env, "AZURE_MYSQL", mysql, defaultIdentity);
  if (sqlserver) {
    env.AZURE_SQL_SERVER = sqlserver.host;
    env.AZURE_SQL_PORT = String(sqlserver.port);
    env.AZURE_SQL_DATABASE = sqlserver.database;
    env.AZURE_SQL_AUTHENTICATIONTYPE = "azure-active-directory-default";
    if (defaultIdentity.kind === "user") env.AZURE_SQL_CLIENTID = defaultIdentity.clientId;
  }
  return Object.freeze(env) as EmulatorEnv;
}

/** The Service Connector variables of Azure Database for PostgreSQL or MySQL. */
function addOssrdbmsEnv(
  env: Record<string, string>,
  prefix: "AZURE_POSTGRESQL" | "AZURE_MYSQL",
  address: EngineAddress,
  identity: EmulatedIdentity,
): void {
  env[`${prefix}_HOST`] = address.host;
  env[`${prefix}_PORT`] = String(address.port);
  env[`${prefix}_DATABASE`] = address.database;
  env[`${prefix}_USER`] = identity.name;
  env[`${prefix}_SSL`] = "true";
  if (identity.kind === "user") env[`${prefix}_CLIENTID`] = identity.clientId;
}

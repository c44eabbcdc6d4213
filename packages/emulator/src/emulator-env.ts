import type { EngineAddress } from "./emulator-engine.js";
import type { EmulatedIdentity } from "./resolve-identities.js";

/**
 * The variables an app process needs, ready to spread into `process.env` or a child's env: the
 * identity variables always, the `AZURE_POSTGRESQL_*`, `AZURE_MYSQL_*` and `AZURE_SQL_*` ones for
 * the engines that run.
 */
export interface EmulatorEnv {
  /**
   * The App Service managed-identity endpoint, `{url}/msi/token` of the identity endpoint; when the
   * default identity is a managed identity.
   */
  readonly IDENTITY_ENDPOINT?: string;
  /** The `X-IDENTITY-HEADER` secret the identity endpoint expects; with `IDENTITY_ENDPOINT`. */
  readonly IDENTITY_HEADER?: string;
  /**
   * Pins `DefaultAzureCredential` to the one credential the default identity uses, so nothing else
   * (no developer sign-in) is tried: `ManagedIdentityCredential`, `EnvironmentCredential` (service
   * principal with a secret or certificate) or `WorkloadIdentityCredential` (federated token file).
   */
  readonly AZURE_TOKEN_CREDENTIALS:
    | "ManagedIdentityCredential"
    | "EnvironmentCredential"
    | "WorkloadIdentityCredential";
  /**
   * The PEM file of the emulator's CA, so that Node.js trusts the engines' (and the Entra authority's)
   * certificates. Node.js reads it at process start only: give it to a child process.
   */
  readonly NODE_EXTRA_CA_CERTS: string;
  /** Service principal: the emulator's Entra authority, `https://localhost:<port>`. */
  readonly AZURE_AUTHORITY_HOST?: string;
  /** Service principal: the tenant. */
  readonly AZURE_TENANT_ID?: string;
  /** Service principal: its application (client) id. */
  readonly AZURE_CLIENT_ID?: string;
  /** Service principal with `servicePrincipalCredential: "secret"`: its client secret. */
  readonly AZURE_CLIENT_SECRET?: string;
  /** Service principal with `"certificate"`: a PEM file with its private key and certificate. */
  readonly AZURE_CLIENT_CERTIFICATE_PATH?: string;
  /** Service principal with `"workloadIdentity"`: the federated token file, kept fresh by the emulator. */
  readonly AZURE_FEDERATED_TOKEN_FILE?: string;
  /**
   * Service principal: the emulator's instance-discovery proxy. MSAL asks login.microsoftonline.com
   * to validate any authority it does not know; the proxy answers that one request for the emulator's
   * authority and refuses to tunnel anywhere else. Absent when the emulator was given its `tls`.
   */
  readonly HTTPS_PROXY?: string;
  /** Service principal, with `HTTPS_PROXY`: `localhost,127.0.0.1`, so the authority itself is reached directly. */
  readonly NO_PROXY?: string;
  /** The PostgreSQL endpoint's host, when PostgreSQL runs. */
  readonly AZURE_POSTGRESQL_HOST?: string;
  /** The PostgreSQL endpoint's port, when PostgreSQL runs. */
  readonly AZURE_POSTGRESQL_PORT?: string;
  /** The PostgreSQL database, when PostgreSQL runs. */
  readonly AZURE_POSTGRESQL_DATABASE?: string;
  /** The default identity's name (a service principal's display name), the role it logs in as, when PostgreSQL runs. */
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
  /** The default identity's name (a service principal's display name), the user it logs in as, when MySQL runs. */
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
  /** How a service-principal default identity signs in; required when it is one. */
  readonly servicePrincipal?: ServicePrincipalEnvSources;
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
  const env: Record<string, string> =
    defaultIdentity.kind === "servicePrincipal"
      ? servicePrincipalEnv(defaultIdentity, sources)
      : {
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

/** What a service-principal default identity's `env` names (see {@link EmulatorEnvSources.servicePrincipal}). */
export interface ServicePrincipalEnvSources {
  /** `AZURE_AUTHORITY_HOST`. */
  readonly authorityHost: string;
  /** `AZURE_TENANT_ID`. */
  readonly tenantId: string;
  /** `HTTPS_PROXY`, the instance-discovery proxy; undefined when there is none. */
  readonly discoveryProxy?: string;
  /** The credential: the secret, a certificate file or a federated token file. */
  readonly credential:
    | { readonly kind: "secret" }
    | { readonly kind: "certificate"; readonly path: string }
    | { readonly kind: "workloadIdentity"; readonly path: string };
}

/** The `@azure/identity` variables of a service principal (EnvironmentCredential or WorkloadIdentityCredential). */
function servicePrincipalEnv(
  identity: EmulatedIdentity,
  sources: EmulatorEnvSources,
): Record<string, string> {
  const principal = sources.servicePrincipal;
  if (!principal)
    throw new TypeError(`The service principal "${identity.name}" needs servicePrincipal sources.`);
  const { credential } = principal;
  const env: Record<string, string> = {
    AZURE_TOKEN_CREDENTIALS:
      credential.kind === "workloadIdentity" ? "WorkloadIdentityCredential" : "EnvironmentCredential",
    NODE_EXTRA_CA_CERTS: sources.caFile,
    AZURE_AUTHORITY_HOST: principal.authorityHost,
    AZURE_TENANT_ID: principal.tenantId,
    AZURE_CLIENT_ID: identity.clientId,
  };
  if (credential.kind === "secret") env.AZURE_CLIENT_SECRET = identity.clientSecret ?? "";
  if (credential.kind === "certificate") env.AZURE_CLIENT_CERTIFICATE_PATH = credential.path;
  if (credential.kind === "workloadIdentity") env.AZURE_FEDERATED_TOKEN_FILE = credential.path;
  if (principal.discoveryProxy) {
    env.HTTPS_PROXY = principal.discoveryProxy;
    env.NO_PROXY = "localhost,127.0.0.1";
  }
  return env;
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

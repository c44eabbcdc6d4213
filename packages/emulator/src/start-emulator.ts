import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { type LoginRejectionReason, ossrdbmsResource } from "./authorize-login.js";
import { type EngineContext, rejectionFaults } from "./emulator-engine.js";
import { type EmulatorEnv, emulatorEnv } from "./emulator-env.js";
import { type EmulatorOptions, resolveEmulatorOptions } from "./emulator-options.js";
import {
  type IdentityEndpointCounters,
  type IdentityFault,
  startIdentityEndpoint,
} from "./identity-endpoint.js";
import { type DatabaseEngine, type EngineLoginCounters, LoginTally } from "./login-tally.js";
import { startMysqlEngine } from "./mysql/mysql-engine.js";
import { startPostgresEngine } from "./pg/postgres-engine.js";
import { type EmulatedIdentity, type IdentitySpec, resolveIdentities } from "./resolve-identities.js";
import {
  type ClientCertificateFileOptions,
  type FederatedTokenFileOptions,
  type FederatedTokenOptions,
  startServicePrincipalSupport,
} from "./service-principal-support.js";
import { type SqlSessionExpiry, startSqlServerEngine } from "./tds/sqlserver-engine.js";
import { createEmulatorTls } from "./tls-authority.js";
import { createTokenIssuer, type JsonWebKeySet, type MintTokenOptions } from "./token-issuer.js";
import { TokenRequestControl } from "./token-request-control.js";

/** Options of {@link Emulator.mintToken}. */
export interface EmulatorMintOptions {
  /**
   * The principal: a configured identity's name, any other name (minted as a user-assigned
   * identity), or an identity object. Defaults to the default (first) identity.
   */
  readonly identity?: string | IdentitySpec | EmulatedIdentity;
  /**
   * The `aud` claim. Defaults to `https://ossrdbms-aad.database.windows.net`; use
   * `https://database.windows.net` (or `https://database.windows.net/`) for Azure SQL.
   */
  readonly audience?: string;
  /** Seconds from `iat` to `exp`. Defaults to the emulator's token lifetime. */
  readonly lifetimeInSeconds?: number;
  /** Mint a token that expired a minute beyond the clock skew. Defaults to false. */
  readonly expired?: boolean;
  /** `bad` makes the signature fail verification. Defaults to `valid`. */
  readonly signature?: "valid" | "bad";
  /** Tenant of the token (`tid` and `iss`). Defaults to the emulator's tenant. */
  readonly tenantId?: string;
  /** Seconds from `iat` to `nbf`. Defaults to 0. */
  readonly notBeforeOffsetInSeconds?: number;
  /** `iat` in epoch seconds. Defaults to now. */
  readonly issuedAt?: number;
  /** Extra or overriding claims. */
  readonly claims?: Readonly<Record<string, unknown>>;
}

/** A snapshot of the emulator's counters; every counter is zero at start and after `resetCounters()`. */
export interface EmulatorCounters extends IdentityEndpointCounters {
  /** Database logins accepted (backend session opened), over all engines. */
  readonly loginsAccepted: number;
  /** Database logins refused (by validation, injection, TLS policy or the backend). */
  readonly loginsRejected: number;
  /** Refusals per reason (`expired`, `audience`, `invalid`, `principal`, `tls-required`, `backend`), over all engines. */
  readonly rejectionsByReason: Readonly<Record<string, number>>;
  /** The same three counters per database engine. */
  readonly byEngine: Readonly<Record<DatabaseEngine, EngineLoginCounters>>;
  /** Azure SQL sessions ended with error 37396 because their token expired while they were open. */
  readonly sessionsExpired: number;
}

/** A running emulator; it starts with no faults and zero counters. */
export interface Emulator extends AsyncDisposable {
  /** App Service identity endpoint URL (`IDENTITY_ENDPOINT`), ending in `/msi/token`. */
  readonly identityEndpoint: string;
  /** The `X-IDENTITY-HEADER` secret (`IDENTITY_HEADER`). */
  readonly identityHeader: string;
  /** Base URL for the IMDS protocol (`AZURE_POD_IDENTITY_AUTHORITY_HOST`). */
  readonly imdsAuthorityHost: string;
  /**
   * The Entra authority service principals sign in at (`AZURE_AUTHORITY_HOST`), `https://localhost:<port>`:
   * `/{tenant}/v2.0/.well-known/openid-configuration`, the JWKS and `/{tenant}/oauth2/v2.0/token`.
   */
  readonly authorityHost: string;
  /** The emulator's OIDC issuer (`{authorityHost}/oidc`): the `iss` of federated tokens it writes. */
  readonly oidcIssuer: string;
  /**
   * The instance-discovery proxy (`HTTPS_PROXY` of a service principal's `env`), `http://<host>:<port>`;
   * undefined when the emulator was given its `tls` (it then cannot vouch for login.microsoftonline.com).
   */
  readonly discoveryProxy?: string;
  /** Tenant id of issued tokens. */
  readonly tenantId: string;
  /** The identities; the first is the default. */
  readonly identities: readonly EmulatedIdentity[];
  /** PEM of the TLS CA to trust. */
  readonly ca: string;
  /** Public signing keys. */
  readonly jwks: JsonWebKeySet;
  /** Where the PostgreSQL gateway listens; undefined when disabled. */
  readonly postgres?: {
    /** Always `localhost`, a name the emulator's certificate carries (`AZURE_POSTGRESQL_HOST`). */
    readonly host: "localhost";
    /** The port it listens on (`AZURE_POSTGRESQL_PORT`). */
    readonly port: number;
    /** The database apps connect to (`AZURE_POSTGRESQL_DATABASE`). */
    readonly database: string;
  };
  /** Where the MySQL gateway listens; undefined when disabled. */
  readonly mysql?: {
    /** Always `localhost`, a name the emulator's certificate carries (`AZURE_MYSQL_HOST`). */
    readonly host: "localhost";
    /** The port it listens on (`AZURE_MYSQL_PORT`). */
    readonly port: number;
    /** The database apps connect to (`AZURE_MYSQL_DATABASE`). */
    readonly database: string;
  };
  /** Where the Azure SQL (TDS) endpoint listens; undefined when disabled. */
  readonly sqlserver?: {
    /** Always `localhost`, a name the emulator's certificate carries (`AZURE_SQL_SERVER`). */
    readonly host: "localhost";
    /** The port it listens on (`AZURE_SQL_PORT`). */
    readonly port: number;
    /** The database apps connect to (`AZURE_SQL_DATABASE`). */
    readonly database: string;
  };
  /** Variables for an app process. */
  readonly env: EmulatorEnv;
  /**
   * Lifetime of the tokens the identity endpoint issues from now on (and the default for
   * `mintToken`), in seconds; settable at run time. Starts as the `tokenLifetimeInSeconds` option.
   */
  tokenLifetimeInSeconds: number;
  /** Mints a token directly (any principal, audience, lifetime, or deliberately broken). */
  mintToken(options?: EmulatorMintOptions): string;
  /**
   * Mints a federated token of the emulator's OIDC issuer (a Kubernetes service account token): what
   * `WorkloadIdentityCredential` reads from `AZURE_FEDERATED_TOKEN_FILE`. By default it matches a
   * service principal's first federated credential; options make it wrong on purpose.
   */
  mintFederatedToken(options?: FederatedTokenOptions): string;
  /** Writes {@link Emulator.mintFederatedToken}'s token to a file (mode 0600) and returns its path. */
  writeFederatedTokenFile(options?: FederatedTokenFileOptions): Promise<string>;
  /**
   * Generates (once per service principal) a self-signed RSA certificate, registers it on the service
   * principal, writes its private key and certificate as PEM (mode 0600) and returns the path: what
   * `AZURE_CLIENT_CERTIFICATE_PATH` / `ClientCertificateCredential` take.
   */
  writeClientCertificate(options?: ClientCertificateFileOptions): Promise<string>;
  /** Fault injection. */
  readonly faults: {
    /** Faults of token requests: the managed-identity endpoint's and the Entra token endpoint's. */
    readonly identity: {
      /** Injects a fault into the following token requests. */
      set(fault: IdentityFault): void;
      /** Reverts to answering normally. */
      reset(): void;
    };
    /** Injected refusals of PostgreSQL logins. */
    readonly postgres: {
      /** Refuse the next `count` logins with `reason`. Defaults to `invalid`. */
      rejectNextLogins(count: number, reason?: LoginRejectionReason): void;
      /** Drops pending injected rejections. */
      reset(): void;
    };
    /** Injected refusals of MySQL logins. */
    readonly mysql: {
      /** Refuse the next `count` MySQL logins with `reason`. Defaults to `invalid`. */
      rejectNextLogins(count: number, reason?: LoginRejectionReason): void;
      /** Drops pending injected rejections. */
      reset(): void;
    };
    /** Injected refusals of Azure SQL logins. */
    readonly sqlserver: {
      /** Refuse the next `count` Azure SQL logins with `reason` (error 18456). Defaults to `invalid`. */
      rejectNextLogins(count: number, reason?: LoginRejectionReason): void;
      /**
       * Whether requests on sessions whose token expired end them with error 37396 from now on
       * (the `sqlserver.expireSessions` option sets where it starts).
       */
      expireSessions(enabled: boolean): void;
      /** Drops pending injected rejections and restores `expireSessions` to the option's setting. */
      reset(): void;
    };
  };
  /** A snapshot of the counters. */
  readonly counters: EmulatorCounters;
  /** Sets every counter to zero. */
  resetCounters(): void;
  /** Stops every server, destroys sockets, stops PGlite and removes the CA file. Idempotent. */
  close(): Promise<void>;
}

/**
 * Starts the emulator: a managed-identity endpoint (App Service and IMDS protocols) issuing
 * RS256 tokens, an Entra ID authority over TLS where service principals sign in (client secret,
 * certificate or workload-identity federation) for tokens from the same issuer, a TLS PostgreSQL
 * gateway that validates them in front of PGlite or a real server,
 * (when asked) a TLS MySQL gateway in front of a real MySQL/MariaDB server, and (when asked) an
 * Azure SQL Database (TDS) endpoint that validates Entra tokens and answers a few statements itself.
 *
 * Without options it runs tenant `72f988bf-0000-4000-8000-00000000e417`, one system-assigned
 * identity `emulated-app`, one-hour tokens, 127.0.0.1 with ephemeral ports, and a PGlite backend
 * (or the server in `ENTRA_EMULATOR_POSTGRES_URL`).
 *
 * @example
 * ```ts
 * await using emulator = await startEmulator();
 * Object.assign(process.env, emulator.env);
 * const pool = new pg.Pool(withEntra());
 * ```
 */
export async function startEmulator(options: EmulatorOptions = {}): Promise<Emulator> {
  const settings = resolveEmulatorOptions(options);
  const { now, host, tenantId, clockSkewInSeconds, identities } = settings;
  const defaultIdentity = identities[0] as EmulatedIdentity;

  const cleanups: Array<() => Promise<void>> = [];
  const runCleanups = async () => {
    for (const cleanup of cleanups.splice(0).reverse()) {
      await cleanup().catch(() => undefined);
    }
  };

  try {
    const [tls, issuer] = await Promise.all([
      createEmulatorTls({ given: settings.tls, now }),
      createTokenIssuer({ tenantId, now }),
    ]);

    const caDirectory = await mkdtemp(join(tmpdir(), "entra-emulator-"));
    cleanups.push(() => rm(caDirectory, { recursive: true, force: true }));
    const caFile = join(caDirectory, "ca.pem");
    await writeFile(caFile, tls.ca, { mode: 0o644 });

    // One fault and one set of counters for every token endpoint.
    const control = new TokenRequestControl();
    const endpoint = await failingAs(
      "identity",
      startIdentityEndpoint({
        issuer,
        identities,
        host,
        port: settings.identityPort,
        tokenLifetimeInSeconds: settings.tokenLifetimeInSeconds,
        cacheTokens: settings.cacheTokens,
        now,
        control,
      }),
    );
    cleanups.push(() => endpoint.close());

    const principals = await failingAs(
      "authority",
      startServicePrincipalSupport({
        host,
        port: settings.authorityPort,
        tls,
        tenantId,
        issuer,
        identities,
        control,
        tokenLifetimeInSeconds: () => endpoint.tokenLifetimeInSeconds,
        now,
        directory: caDirectory,
        credential: settings.servicePrincipalCredential,
      }),
    );
    cleanups.push(() => principals.close());
    const servicePrincipals = identities.filter((identity) => identity.kind === "servicePrincipal");

    const logins = new LoginTally();
    const pendingRejections: Record<DatabaseEngine, LoginRejectionReason[]> = {
      postgres: [],
      mysql: [],
      sqlserver: [],
    };
    const engineContext = (engine: DatabaseEngine): EngineContext => ({
      host,
      tls: { key: tls.key, cert: tls.cert },
      tenantId,
      identities,
      tokenPolicy: () => ({
        tenantId,
        jwks: issuer.jwks,
        nowMs: now(),
        clockSkewInSeconds,
        pendingRejections: pendingRejections[engine],
        servicePrincipals,
        // Azure Database for PostgreSQL keeps a principal's object id; MySQL and Azure SQL its client id.
        servicePrincipalClaim: engine === "postgres" ? "oid" : "appid",
      }),
      onLogin: logins.observer(engine),
      addCleanup: (cleanup) => cleanups.push(cleanup),
    });
    const postgres =
      settings.postgres &&
      (await failingAs("postgres", startPostgresEngine(settings.postgres, engineContext("postgres"))));
    const mysql =
      settings.mysql && (await failingAs("mysql", startMysqlEngine(settings.mysql, engineContext("mysql"))));
    const expireSessions = settings.sqlserver?.expireSessions ?? true;
    const sqlSessions: SqlSessionExpiry = { enabled: expireSessions, ended: 0 };
    const sqlserver =
      settings.sqlserver &&
      (await failingAs(
        "sqlserver",
        startSqlServerEngine(settings.sqlserver, engineContext("sqlserver"), sqlSessions),
      ));

    const env = emulatorEnv({
      identityEndpoint: endpoint.appServiceEndpoint,
      identityHeader: endpoint.identityHeader,
      caFile,
      defaultIdentity,
      servicePrincipal: principals.envSources,
      postgres,
      mysql,
      sqlserver,
    });

    const resolveForMint = (identity: EmulatorMintOptions["identity"]): EmulatedIdentity => {
      if (identity === undefined) return defaultIdentity;
      if (typeof identity === "string") {
        return (
          identities.find((candidate) => candidate.name === identity) ??
          (resolveIdentities([{ name: identity, kind: "user" }])[0] as EmulatedIdentity)
        );
      }
      if (identities.includes(identity as EmulatedIdentity) || "resourceId" in identity) {
        return identity as EmulatedIdentity;
      }
      return resolveIdentities([identity])[0] as EmulatedIdentity;
    };

    let closing: Promise<void> | undefined;
    const close = () => {
      closing ??= runCleanups();
      return closing;
    };

    return {
      identityEndpoint: endpoint.appServiceEndpoint,
      identityHeader: endpoint.identityHeader,
      imdsAuthorityHost: endpoint.url,
      authorityHost: principals.authority.url,
      oidcIssuer: principals.authority.federated.url,
      discoveryProxy: principals.proxy?.url,
      tenantId,
      identities,
      ca: tls.ca,
      jwks: issuer.jwks,
      postgres,
      mysql,
      sqlserver,
      env,
      get tokenLifetimeInSeconds() {
        return endpoint.tokenLifetimeInSeconds;
      },
      set tokenLifetimeInSeconds(seconds: number) {
        endpoint.tokenLifetimeInSeconds = seconds;
      },
      mintToken(mint = {}) {
        const lifetimeInSeconds = mint.lifetimeInSeconds ?? endpoint.tokenLifetimeInSeconds;
        const nowSeconds = Math.floor(now() / 1000);
        const request: MintTokenOptions = {
          identity: resolveForMint(mint.identity),
          audience: mint.audience ?? ossrdbmsResource,
          lifetimeInSeconds,
          issuedAt: mint.expired ? nowSeconds - lifetimeInSeconds - clockSkewInSeconds - 60 : mint.issuedAt,
          notBeforeOffsetInSeconds: mint.notBeforeOffsetInSeconds,
          tenantId: mint.tenantId,
          signature: mint.signature,
          claims: mint.claims,
        };
        return issuer.mintToken(request).token;
      },
      mintFederatedToken: (mint) => principals.mintFederatedToken(mint),
      writeFederatedTokenFile: (file) => principals.writeFederatedTokenFile(file),
      writeClientCertificate: (file) => principals.writeClientCertificate(file),
      faults: Object.freeze({
        identity: Object.freeze({
          set: (fault: IdentityFault) => endpoint.setFault(fault),
          reset: () => endpoint.resetFault(),
        }),
        postgres: rejectionFaults(pendingRejections.postgres),
        mysql: rejectionFaults(pendingRejections.mysql),
        sqlserver: Object.freeze({
          rejectNextLogins: rejectionFaults(pendingRejections.sqlserver).rejectNextLogins,
          expireSessions: (enabled: boolean) => {
            sqlSessions.enabled = enabled;
          },
          reset: () => {
            pendingRejections.sqlserver.length = 0;
            sqlSessions.enabled = expireSessions;
          },
        }),
      }),
      get counters(): EmulatorCounters {
        return Object.freeze({
          ...endpoint.counters,
          ...logins.snapshot(),
          sessionsExpired: sqlSessions.ended,
        });
      },
      resetCounters() {
        endpoint.resetCounters();
        logins.reset();
        sqlSessions.ended = 0;
      },
      close,
      [Symbol.asyncDispose]: close,
    };
  } catch (error) {
    await runCleanups();
    throw error;
  }
}

/**
 * A part of the emulator that {@link startEmulator} starts: the identity endpoint, the Entra
 * authority (with its instance-discovery proxy) or an engine.
 */
export type EmulatorPart = "identity" | "authority" | DatabaseEngine;

const failedParts = new WeakMap<object, EmulatorPart>();

/**
 * The part whose start threw `error` out of {@link startEmulator} (the `entra-emulator` bin names
 * the flag of that part); undefined for any other error.
 *
 * @example
 * await startEmulator({ identityPort: 40342 }).catch((error) => failedPartOf(error)); // "identity" when the port is taken
 */
export function failedPartOf(error: unknown): EmulatorPart | undefined {
  return typeof error === "object" && error !== null ? failedParts.get(error) : undefined;
}

async function failingAs<T>(part: EmulatorPart, starting: Promise<T>): Promise<T> {
  try {
    return await starting;
  } catch (error) {
    if (typeof error === "object" && error !== null && !failedParts.has(error)) failedParts.set(error, part);
    throw error;
  }
}

import type { AccessToken, GetTokenOptions, TokenCredential } from "@azure/core-auth";
import {
  assertSecureTls,
  EntraAuthError,
  type EntraOptions,
  type EntraTarget,
  type EntraTokenProvider,
  getSharedTokenProvider,
  holdTokenProvider,
  logger,
  resolveEntraTarget,
  scopeFor,
} from "@org/entra-core";

/** Options for {@link createEntraTokenCredential}: core's `EntraOptions` plus the server. */
export interface EntraTokenCredentialOptions extends EntraOptions {
  /**
   * The server host name, used only to pick the sovereign cloud's scope if a caller asks for no
   * scope. Defaults to the target's host, else `AZURE_SQL_SERVER`.
   */
  readonly server?: string;
  /**
   * The Azure SQL target `withEntra` resolved (core's `resolveEntraTarget`): its client ID and
   * host are used instead of reading the Service Connector variables again.
   */
  readonly target?: EntraTarget;
}

/**
 * Host names of the Azure SQL token audiences a server may ask for (its SPN in FEDAUTHINFO):
 * public cloud, Azure China, Azure US Government, and Azure Synapse.
 */
const SQL_RESOURCE_HOSTS = [
  /^database\.windows\.net$/,
  /^database\.chinacloudapi\.cn$/,
  /^database\.usgovcloudapi\.net$/,
  /^database\.cloudapi\.de$/,
  /^(?:[a-z0-9-]+\.)?sql\.azuresynapse\.(?:net|azure\.cn|usgovcloudapi\.net)$/,
];

/**
 * The `TokenCredential` that `withEntra` puts into `authentication.options.credential`. tedious
 * calls `getToken(scope)` on every login, with the scope derived from the server's SPN; each call
 * is answered from the process-wide shared provider of `@org/entra-core` for that scope, so logins
 * cost no credential call while the cached token is valid.
 *
 * The credential holds no token: `util.inspect`, `JSON.stringify` and logs show nothing secret.
 */
export class EntraTokenCredential implements TokenCredential {
  readonly #options: EntraOptions;
  readonly #clientId: string | undefined;
  readonly #server: string | undefined;
  /** Providers this credential handed tokens from, so that {@link invalidate} reaches them. */
  readonly #used = new Set<EntraTokenProvider>();
  /**
   * The shared provider of the target's scope, warm-started when the target was resolved. Held so
   * that it lives as long as this credential: the registry holds providers only weakly.
   */
  readonly #targetProvider: EntraTokenProvider;

  /** Use {@link createEntraTokenCredential}. */
  constructor(options: EntraTokenCredentialOptions = {}) {
    const { target: given, server, ...entraOptions } = options;
    const target = given ?? resolveEntraTarget("sqlserver", { host: server }, entraOptions);
    this.#options = Object.freeze({ ...entraOptions, scope: entraOptions.scope || undefined });
    this.#clientId = target.clientId;
    this.#server = server || target.host;
    this.#targetProvider = target.provider;
  }

  /**
   * Returns a currently valid access token from the shared provider for the requested scope
   * (or for `options.scope` when one was given to {@link createEntraTokenCredential}).
   * `abortSignal` rejects only this caller with `EntraAuthError` `ABORTED`.
   *
   * @param scopes - The scope tedious asks for, `new URL("/.default", spn)`. A scope that is not
   *   an Azure SQL resource is refused (`INVALID_SETTING`) so that a server cannot obtain a token
   *   for another resource; set `options.scope` to override.
   * @param options - `abortSignal` is honoured; `tenantId` and `claims` are not supported.
   * @returns The token and its expiry (the provider's cached token while it is valid).
   * @throws EntraAuthError `INSECURE_TRANSPORT` while `NODE_TLS_REJECT_UNAUTHORIZED=0` (unless
   *   `allowInsecure`), or from the provider (`CREDENTIAL_FAILED`, `TOKEN_TIMEOUT`, `ABORTED`...).
   */
  async getToken(scopes: string | string[], options: GetTokenOptions = {}): Promise<AccessToken> {
    // tedious leaves `rejectUnauthorized` to Node for TDS 8 TLS, where this variable turns it off;
    // it may have been set after the config was built.
    if (this.#options.allowInsecure !== true) assertSecureTls(undefined);
    const provider = this.#providerFor(this.#options.scope ?? this.#requestedScope(scopes));
    this.#used.add(provider);
    // core-auth types the signal as AbortSignalLike; callers pass real AbortSignals.
    const abortSignal = options.abortSignal as AbortSignal | undefined;
    const { token, expiresOnTimestamp } = await provider.getToken({ abortSignal });
    recordHandout(this, expiresOnTimestamp);
    return { token, expiresOnTimestamp };
  }

  /**
   * The user-assigned managed identity's client ID passed to `DefaultAzureCredential`
   * (`managedIdentityClientId`), from `options.clientId` or `AZURE_SQL_CLIENTID`. Not used when
   * `credential` or `tokenProvider` was given; `undefined` without one (system-assigned identity
   * or developer sign-in).
   */
  get clientId(): string | undefined {
    return this.#options.credential || this.#options.tokenProvider ? undefined : this.#clientId;
  }

  /**
   * Holds every shared provider this credential has handed tokens from, for `owner` (normally a
   * tedious `Connection` that logged in with one): shared providers refresh ahead of expiry in the
   * background only while something holds them. The holds end when the returned function is
   * called (idempotent) or when `owner` is garbage-collected. A `tokenProvider` of your own is held
   * too when `createTokenProvider` made it (a test fake is not).
   * {@link @org/tedious-entra!holdWhileConnected | holdWhileConnected} calls it for each connection.
   *
   * @example
   * ```ts
   * connection.once("connect", (err) => {
   *   if (!err) connection.once("end", credential.hold(connection));
   * });
   * ```
   *
   * @param owner - The object whose lifetime bounds the holds.
   * @returns The function that ends the holds.
   */
  hold(owner: object): () => void {
    const releases = [...this.#used].map((provider) => holdTokenProvider(provider, owner));
    return () => {
      for (const release of releases.splice(0)) release();
    };
  }

  /**
   * Drops the cached token of every provider this credential has used, so the next login fetches
   * a fresh one. Called when the server says the token is expired or invalid.
   */
  invalidate(): void {
    for (const provider of this.#used) provider.invalidate();
  }

  /** The scope the provider is keyed by: what the server asked for, checked and normalised. */
  #requestedScope(scopes: string | string[]): string {
    const list = (Array.isArray(scopes) ? scopes : [scopes]).filter((s) => typeof s === "string" && s !== "");
    if (list.length === 0) return scopeFor("sqlserver", this.#server);
    if (list.length > 1) {
      throw new EntraAuthError("INVALID_SETTING", `Expected one token scope, got ${list.length}.`, {
        hint: "Pass `scope` in the options to choose one.",
      });
    }
    const requested = list[0] as string;
    let url: URL;
    try {
      url = new URL(requested);
    } catch {
      url = new URL("invalid:");
    }
    if (url.protocol !== "https:" || !SQL_RESOURCE_HOSTS.some((host) => host.test(url.hostname))) {
      throw new EntraAuthError(
        "INVALID_SETTING",
        `The server asked for a token for "${requested.slice(0, 200)}", which is not an Azure SQL resource; no token was requested.`,
        {
          hint: "Check that `server` is your Azure SQL server. If this resource is intended, pass its scope as `scope` in the options.",
        },
      );
    }
    return `${url.origin}/.default`;
  }

  #providerFor(scope: string): EntraTokenProvider {
    if (this.#options.tokenProvider) return this.#options.tokenProvider;
    if (scope === this.#targetProvider.scope) return this.#targetProvider;
    logger.verbose(`tedious asked for a token for ${scope}.`);
    return this.#sharedProvider(scope);
  }

  #sharedProvider(scope: string): EntraTokenProvider {
    return getSharedTokenProvider({ ...this.#options, clientId: this.#clientId, scope });
  }
}

/**
 * Creates the `TokenCredential` for tedious's `authentication: { type: "token-credential" }`.
 * Unlike tedious's own `azure-active-directory-*` types, which build a new credential (and fetch
 * a new token) for every login, it answers every login from the process-wide shared provider of
 * `@org/entra-core`, keyed by the scope tedious asks for (normally
 * `https://database.windows.net/.default`, derived from the server's SPN, so sovereign clouds
 * follow the server).
 *
 * @example
 * ```ts
 * import { Connection } from "tedious";
 * import { createEntraTokenCredential } from "@org/tedious-entra";
 *
 * const credential = createEntraTokenCredential({ clientId: process.env.AZURE_SQL_CLIENTID });
 * const connection = new Connection({
 *   server: "myserver.database.windows.net",
 *   authentication: { type: "token-credential", options: { credential } },
 *   options: { database: "app", encrypt: true },
 * });
 * ```
 *
 * @param options - Credential, client ID, scope and refresh options; the credential defaults to
 *   `DefaultAzureCredential` with `managedIdentityClientId` from `clientId` or `AZURE_SQL_CLIENTID`.
 * @returns A credential whose tokens come from the shared provider.
 * @throws EntraAuthError `INVALID_SETTING` for a malformed `AZURE_SQL_*` variable.
 */
export function createEntraTokenCredential(options: EntraTokenCredentialOptions = {}): EntraTokenCredential {
  return new EntraTokenCredential(options);
}

/** True when `value` is a credential made by {@link createEntraTokenCredential}. */
export function isEntraTokenCredential(value: unknown): value is EntraTokenCredential {
  return value instanceof EntraTokenCredential;
}

/**
 * The Entra credential in a tedious connection's config (`authentication.options.credential`, as
 * tedious normalised it), or undefined for any other authentication.
 */
export function credentialOfConnection(connection: {
  readonly config?: { readonly authentication?: unknown };
}): EntraTokenCredential | undefined {
  const authentication = connection.config?.authentication as
    | { readonly options?: { readonly credential?: unknown } }
    | undefined;
  const credential = authentication?.options?.credential;
  return isEntraTokenCredential(credential) ? credential : undefined;
}

/**
 * Per credential: the expiry of each token it handed out (tedious calls `getToken` once per login)
 * and when it last handed that token out. Read by `trackSessionExpiry` to learn which token a
 * connection logged in with; tokens long expired are pruned.
 */
const handouts = new WeakMap<EntraTokenCredential, Map<number, number>>();

/** How long an expired token stays in {@link handouts}: longer than any login takes. */
const HANDOUT_RETENTION_IN_MS = 120_000;

function recordHandout(credential: EntraTokenCredential, expiresOnTimestamp: number): void {
  let byExpiry = handouts.get(credential);
  if (!byExpiry) {
    byExpiry = new Map();
    handouts.set(credential, byExpiry);
  }
  const nowMs = Date.now();
  byExpiry.set(expiresOnTimestamp, nowMs);
  for (const expiry of byExpiry.keys()) {
    if (expiry < nowMs - HANDOUT_RETENTION_IN_MS) byExpiry.delete(expiry);
  }
}

/**
 * The earliest expiry among the tokens `credential` handed out at or after `sinceMs`: a lower bound
 * of the expiry of the token a connection that started its login at `sinceMs` logged in with.
 * Tokens already expired at `nowMs` are skipped unless no other was handed out (a login that
 * succeeded used a token that was valid then). Undefined when none was handed out since.
 */
export function earliestTokenExpirySince(
  credential: EntraTokenCredential,
  sinceMs: number,
  nowMs: number,
): number | undefined {
  let earliest: number | undefined;
  let earliestExpired: number | undefined;
  for (const [expiry, handedOutAt] of handouts.get(credential) ?? []) {
    if (handedOutAt < sinceMs) continue;
    if (expiry > nowMs) earliest = Math.min(earliest ?? expiry, expiry);
    else earliestExpired = Math.min(earliestExpired ?? expiry, expiry);
  }
  return earliest ?? earliestExpired;
}

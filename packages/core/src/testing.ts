/**
 * Test helpers for code that uses an {@link EntraTokenProvider}: `@org/entra-core/testing`.
 *
 * They are for your own tests too. Pass the fake to any adapter's `withEntra(config, { tokenProvider })`
 * to test your database set-up without Azure, a credential or a network:
 *
 * ```ts
 * import { createFakeTokenProvider } from "@org/entra-core/testing";
 *
 * const tokenProvider = createFakeTokenProvider({ token: "test-token" });
 * const config = withEntra({ host: "db.postgres.database.azure.com" }, { tokenProvider });
 * // ... connect, then check tokenProvider.calls and tokenProvider.invalidations
 * ```
 *
 * Nothing here talks to Entra ID; the tokens are unsigned and no server accepts them.
 *
 * @packageDocumentation
 */
import type {
  EntraAccessToken,
  EntraTokenProvider,
  EntraTokenProviderStats,
  GetEntraTokenOptions,
} from "./entra-token-provider.js";

/** Options for {@link fakeJwt}. */
export interface FakeJwtOptions {
  /** The third (signature) part, base64url. Defaults to `"c2lnbmF0dXJl"` (`"signature"`). */
  readonly signature?: string;
}

/**
 * A JWT-shaped token carrying `claims`, as `deriveUsername` and the adapters read them. It is not
 * signed (the header says RS256, the signature is a placeholder): for tests only.
 *
 * @param claims - The payload (required), e.g. `{ upn: "dev@contoso.com" }` or
 *   `{ xms_mirid: "/subscriptions/..." }`.
 * @param options - The signature part. Defaults to `{ signature: "c2lnbmF0dXJl" }`.
 * @returns `header.payload.signature`, each part base64url-encoded JSON (the signature as given).
 *
 * @example
 * ```ts
 * deriveUsername(fakeJwt({ upn: "dev@contoso.com" })); // "dev@contoso.com"
 * ```
 */
export function fakeJwt(claims: Record<string, unknown>, options: FakeJwtOptions = {}): string {
  const part = (value: object) => Buffer.from(JSON.stringify(value)).toString("base64url");
  return `${part({ alg: "RS256", typ: "JWT" })}.${part(claims)}.${options.signature ?? "c2lnbmF0dXJl"}`;
}

/**
 * A {@link fakeJwt} for the managed identity `canary-app` (an App Service's `xms_mirid`), so its
 * derived username is `"canary-app"`. Its signature part is 39 characters long, so that a test can
 * check that neither the token nor its tail (e.g. `CANARY_TOKEN.slice(-30)`) ever shows up in logs,
 * errors or `util.inspect` output. It is the default token of {@link createFakeTokenProvider}.
 */
export const CANARY_TOKEN: string = fakeJwt(
  { xms_mirid: "/subscriptions/s/resourcegroups/r/providers/Microsoft.Web/sites/canary-app" },
  { signature: "c2lnbmF0dXJlLW9mLXRoZS1jYW5hcnktdG9rZW4" },
);

/** Options for {@link createFakeTokenProvider}. */
export interface FakeTokenProviderOptions {
  /**
   * The token every `getToken` call resolves to. Ignored when `tokens` is given. Defaults to
   * {@link CANARY_TOKEN}.
   */
  readonly token?: string;
  /**
   * Tokens handed out in turn, one per successful `getToken` call; the last one repeats, e.g.
   * `["token-1", "token-2"]` to see a refreshed token reach the next connection. Defaults to
   * `[token]`.
   */
  readonly tokens?: readonly string[];
  /**
   * The provider's `scope`. The fake does not use it. Defaults to
   * `"https://ossrdbms-aad.database.windows.net/.default"` (Azure Database for PostgreSQL and MySQL).
   */
  readonly scope?: string;
  /**
   * Lifetime of each token handed out: `expiresOnTimestamp` is `Date.now() + expiresInMs` at the
   * call. Defaults to `3_600_000` (one hour).
   */
  readonly expiresInMs?: number;
  /**
   * When set, every `getToken` call rejects with this error (after being counted) instead of
   * handing out a token, e.g. an `EntraAuthError` with code `CREDENTIAL_FAILED`, to test how your
   * code reports a sign-in failure. Settable later through {@link FakeTokenProvider.error}.
   * Without it, calls succeed.
   */
  readonly error?: unknown;
}

/**
 * The provider returned by {@link createFakeTokenProvider}: an {@link EntraTokenProvider} that
 * records how it was used.
 */
export interface FakeTokenProvider extends EntraTokenProvider {
  /** Number of `getToken` calls so far, including rejected ones. */
  calls: number;
  /** Number of `invalidate()` calls so far (a server rejected the token). */
  invalidations: number;
  /** Number of `close()` calls so far. */
  closes: number;
  /** The options of each `getToken` call, in order (`undefined` when none were passed). */
  readonly requests: (GetEntraTokenOptions | undefined)[];
  /**
   * The token the next successful `getToken` call resolves to. Setting it makes every later call
   * resolve to the new token. Not enumerable, so `JSON.stringify` and `util.inspect` of the
   * provider do not show it. Defaults to the first of `tokens`, or `token`.
   */
  token: string;
  /**
   * The error `getToken` rejects with, or `undefined` for calls that succeed. Defaults to the
   * `error` option.
   */
  error: unknown;
}

/** Stats of a fake: it has no cache and no credential, so every counter stays zero. */
const NO_STATS: EntraTokenProviderStats = Object.freeze({
  credentialCalls: 0,
  cacheHits: 0,
  refreshes: 0,
  failures: 0,
  sameTokenReturned: 0,
  holds: 0,
  expiresOnTimestamp: undefined,
});

/**
 * A fake {@link EntraTokenProvider} for tests: pass it as `tokenProvider` to an adapter's
 * `withEntra(config, { tokenProvider })` (or to `createEntraTokenCredential`, Prisma's
 * `createEntraAdapter`...) and no credential, cache or network is involved. It hands out the
 * given tokens, counts `calls`, `invalidations` and `closes`, records each call's options in
 * `requests`, and honours an already aborted `abortSignal` (the call rejects with the signal's
 * reason, as `AbortSignal.throwIfAborted` does, and hands out no token).
 *
 * The tokens live only in a closure: the provider object shows none of them to `util.inspect` or
 * `JSON.stringify`.
 *
 * @param options - Tokens, scope, lifetime and error. Defaults to `{}`: every call resolves to
 *   {@link CANARY_TOKEN}, valid for one hour, for the PostgreSQL/MySQL scope.
 * @returns A new provider; `close()` only counts, later calls still answer.
 *
 * @example
 * ```ts
 * import { createFakeTokenProvider } from "@org/entra-core/testing";
 *
 * const tokenProvider = createFakeTokenProvider({ tokens: ["token-1", "token-2"] });
 * const pool = new pg.Pool(withEntra({ host, user: "my-app" }, { tokenProvider }));
 * // ...
 * expect(tokenProvider.calls).toBe(2);
 * ```
 */
export function createFakeTokenProvider(options: FakeTokenProviderOptions = {}): FakeTokenProvider {
  const queue =
    options.tokens && options.tokens.length > 0 ? [...options.tokens] : [options.token ?? CANARY_TOKEN];
  const expiresInMs = options.expiresInMs ?? 3_600_000;
  const provider = {
    scope: options.scope ?? "https://ossrdbms-aad.database.windows.net/.default",
    calls: 0,
    invalidations: 0,
    closes: 0,
    requests: [] as (GetEntraTokenOptions | undefined)[],
    error: options.error,
    async getToken(getOptions?: GetEntraTokenOptions): Promise<EntraAccessToken> {
      provider.calls++;
      provider.requests.push(getOptions);
      getOptions?.abortSignal?.throwIfAborted();
      if (provider.error !== undefined) throw provider.error;
      const token = (queue.length > 1 ? queue.shift() : queue[0]) as string;
      return { token, expiresOnTimestamp: Date.now() + expiresInMs };
    },
    invalidate(): void {
      provider.invalidations++;
    },
    stats: NO_STATS,
    close(): void {
      provider.closes++;
    },
  } as FakeTokenProvider;
  Object.defineProperty(provider, "token", {
    enumerable: false,
    get: () => queue[0],
    set(token: string) {
      queue.splice(0, queue.length, token);
    },
  });
  return provider;
}

/**
 * A stand-in for the `tls.TLSSocket` a driver hands to a password hook: encrypted, with a
 * verified certificate chain and a certificate issued for `names`. Pass it where an adapter's hook
 * checks the live connection before it gives out a token (pg's client `connection.stream`,
 * mysql2's auth plugin `connection.stream`); change `authorized` or `encrypted` to see it refuse.
 *
 * @example
 * ```ts
 * const plugin = config.authPlugins.mysql_clear_password({ connection: { config: {}, stream: fakeTlsSocket() } });
 * await plugin(Buffer.alloc(20)); // the token and a NUL byte
 * ```
 *
 * @param options - `names` the certificate carries (default `["localhost", "127.0.0.1"]`),
 *   `authorized` (default `true`) and `encrypted` (default `true`).
 */
export function fakeTlsSocket(
  options: {
    readonly names?: readonly string[];
    readonly authorized?: boolean;
    readonly encrypted?: boolean;
  } = {},
): {
  /** Whether the connection is TLS: the `encrypted` option. */
  readonly encrypted: boolean;
  /** Whether the certificate chain was verified: the `authorized` option. */
  readonly authorized: boolean;
  /** The certificate: issued for the first of `names`, with all of them as alternative names. */
  getPeerCertificate(): {
    /** The certificate's subject. */
    subject: {
      /** Its common name: the first of `names` (`""` when there is none). */
      CN: string;
    };
    /** The names as Node.js lists them, e.g. `"DNS:localhost, IP Address:127.0.0.1"`. */
    subjectaltname: string;
  };
} {
  const names = options.names ?? ["localhost", "127.0.0.1"];
  const subjectaltname = names
    .map((name) => (/^[\d.]+$|:/.test(name) ? `IP Address:${name}` : `DNS:${name}`))
    .join(", ");
  return {
    encrypted: options.encrypted ?? true,
    authorized: options.authorized ?? true,
    getPeerCertificate: () => ({ subject: { CN: names[0] ?? "" }, subjectaltname }),
  };
}

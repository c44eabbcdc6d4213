import type { EntraAccessToken, EntraTokenProvider, GetEntraTokenOptions } from "@org/entra-core";

/** A JWT-shaped token (unsigned) carrying `claims`. */
export function jwt(claims: Record<string, unknown>): string {
  const part = (value: object) => Buffer.from(JSON.stringify(value)).toString("base64url");
  return `${part({ alg: "RS256", typ: "JWT" })}.${part(claims)}.c2lnbmF0dXJl`;
}

/** A token for the managed identity `canary-app`; tests check it never leaks. */
export const CANARY = jwt({
  aud: "https://database.windows.net/",
  xms_mirid: "/subscriptions/s/resourcegroups/r/providers/Microsoft.Web/sites/canary-app",
});

/** A fake provider that hands out `tokens` in turn (the last one repeats) and records calls. */
export interface FakeTokenProvider extends EntraTokenProvider {
  calls: number;
  invalidations: number;
  readonly requests: (GetEntraTokenOptions | undefined)[];
}

/** A fake `EntraTokenProvider` for Azure SQL; defaults to handing out {@link CANARY}. */
export function fakeTokenProvider(...tokens: string[]): FakeTokenProvider {
  const queue = tokens.length > 0 ? tokens : [CANARY];
  const provider: FakeTokenProvider = {
    scope: "https://database.windows.net/.default",
    calls: 0,
    invalidations: 0,
    requests: [],
    async getToken(options?: GetEntraTokenOptions): Promise<EntraAccessToken> {
      provider.requests.push(options);
      options?.abortSignal?.throwIfAborted();
      const token = queue[Math.min(provider.calls, queue.length - 1)] as string;
      provider.calls++;
      return { token, expiresOnTimestamp: Date.now() + 3_600_000 };
    },
    invalidate() {
      provider.invalidations++;
    },
    stats: {
      credentialCalls: 0,
      cacheHits: 0,
      refreshes: 0,
      failures: 0,
      sameTokenReturned: 0,
      expiresOnTimestamp: undefined,
    },
    close() {},
  };
  return provider;
}

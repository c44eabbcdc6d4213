import type { EntraAccessToken, EntraTokenProvider } from "@org/entra-core";

/** A JWT-shaped token (unsigned) carrying `claims`, as `deriveUsername` reads them. */
export function jwt(claims: Record<string, unknown>): string {
  const part = (value: object) => Buffer.from(JSON.stringify(value)).toString("base64url");
  return `${part({ alg: "RS256", typ: "JWT" })}.${part(claims)}.c2lnbmF0dXJl`;
}

/** A token for the managed identity `canary-app`; tests check it never leaks. */
export const CANARY = jwt({
  xms_mirid: "/subscriptions/s/resourcegroups/r/providers/Microsoft.Web/sites/canary-app",
});

/** A fake provider that hands out `tokens` in turn (the last one repeats) and counts calls. */
export interface FakeTokenProvider extends EntraTokenProvider {
  calls: number;
  invalidations: number;
}

/** A fake `EntraTokenProvider`; defaults to handing out {@link CANARY}. */
export function fakeTokenProvider(...tokens: string[]): FakeTokenProvider {
  const queue = tokens.length > 0 ? tokens : [CANARY];
  const provider: FakeTokenProvider = {
    scope: "https://ossrdbms-aad.database.windows.net/.default",
    calls: 0,
    invalidations: 0,
    async getToken(): Promise<EntraAccessToken> {
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

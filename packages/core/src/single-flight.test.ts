import { describe, expect, it } from "vitest";
import { flush } from "./testing/fake-clock.js";
import { deferred } from "./testing/fake-credential.js";
import { harness } from "./testing/harness.js";

describe("single-flight", () => {
  it("makes exactly one credential call for 100 concurrent cold callers", async () => {
    const { credential, provider } = harness();
    const results = await Promise.all(Array.from({ length: 100 }, () => provider.getToken()));
    expect(credential.calls).toBe(1);
    expect(new Set(results.map((r) => r.token)).size).toBe(1);
    expect(provider.stats.credentialCalls).toBe(1);
  });

  it("answers later callers from the cache without another credential call", async () => {
    const { credential, provider } = harness();
    const first = await provider.getToken();
    const second = await provider.getToken();
    expect(second).toBe(first);
    expect(credential.calls).toBe(1);
    expect(provider.stats.cacheHits).toBe(1);
  });

  it("shares one credential call among concurrent forced refreshes", async () => {
    const { credential, provider } = harness();
    await provider.getToken();
    const forced = await Promise.all([1, 2, 3].map(() => provider.getToken({ forceRefresh: true })));
    expect(credential.calls).toBe(2);
    expect(new Set(forced.map((t) => t.token))).toEqual(new Set(["token-2"]));
  });

  it("lets cold callers join a fetch that is already in flight", async () => {
    const { clock, credential, provider } = harness();
    const pending = deferred<{ token: string; expiresOnTimestamp: number } | null>();
    credential.script.push(pending.promise);
    const a = provider.getToken();
    await flush();
    const b = provider.getToken();
    pending.resolve({ token: "late", expiresOnTimestamp: clock.now() + 3_600_000 });
    expect((await a).token).toBe("late");
    expect((await b).token).toBe("late");
    expect(credential.calls).toBe(1);
  });

  it("caches nothing after invalidate() and fetches once for the next callers", async () => {
    const { credential, provider } = harness();
    await provider.getToken();
    provider.invalidate();
    expect(provider.stats.expiresOnTimestamp).toBeUndefined();
    const [a, b] = await Promise.all([provider.getToken(), provider.getToken()]);
    expect(a.token).toBe("token-2");
    expect(b.token).toBe("token-2");
    expect(credential.calls).toBe(2);
  });
});

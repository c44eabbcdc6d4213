import { describe, expect, it } from "vitest";
import { harness } from "./testing/harness.js";

const HOUR = 3_600_000;

describe("refresh-ahead", () => {
  it("refreshes in the background when entering the refresh window and never makes callers wait", async () => {
    const { clock, credential, provider } = harness();
    const first = await provider.getToken();
    await clock.advance(HOUR - 600_000 - 1);
    expect(credential.calls).toBe(1);
    expect(await provider.getToken()).toBe(first);
    await clock.advance(1);
    expect(credential.calls).toBe(2);
    expect(provider.stats.refreshes).toBe(1);
    const next = await provider.getToken();
    expect(next.token).toBe("token-2");
    expect(next.expiresOnTimestamp).toBe(clock.now() + HOUR);
  });

  it("keeps serving the cached token synchronously while a background refresh is in flight", async () => {
    const { clock, credential, provider } = harness();
    await provider.getToken();
    credential.script.push("hang");
    await clock.advance(HOUR - 600_000);
    expect(credential.calls).toBe(2);
    const cacheHitsBefore = provider.stats.cacheHits;
    const token = await provider.getToken();
    expect(token.token).toBe("token-1");
    expect(provider.stats.cacheHits).toBe(cacheHitsBefore + 1);
  });

  it("creates no timer and no extra promise on a cache hit", async () => {
    const { clock, provider } = harness();
    await provider.getToken();
    const timers = clock.created.length;
    for (let i = 0; i < 1000; i++) await provider.getToken();
    expect(clock.created.length).toBe(timers);
    expect(clock.pending).toBe(1);
  });

  it("honours refreshAfterTimestamp from the credential", async () => {
    const { clock, credential, provider } = harness();
    credential.script.push(credential.mint(24 * HOUR, { refreshAfterTimestamp: clock.now() + 12 * HOUR }));
    await provider.getToken();
    await clock.advance(12 * HOUR - 1);
    expect(credential.calls).toBe(1);
    await clock.advance(1);
    expect(credential.calls).toBe(2);
  });

  it("unrefs every timer it creates", async () => {
    const { clock, provider } = harness();
    await provider.getToken();
    await clock.advance(HOUR);
    expect(clock.created.length).toBeGreaterThan(1);
    expect(clock.created.every((t) => t.unrefed)).toBe(true);
  });

  it("never hands out a token inside the must-refresh margin; callers wait for the new one", async () => {
    const { clock, credential, provider } = harness();
    await provider.getToken();
    // The process was suspended: the timers did not run.
    clock.jump(HOUR - 60_000);
    const token = await provider.getToken();
    expect(token.token).toBe("token-2");
    expect(credential.calls).toBe(2);
  });

  it("starts a late refresh on a cache hit when the timer did not fire", async () => {
    const { clock, credential, provider } = harness();
    await provider.getToken();
    clock.jump(HOUR - 300_000);
    expect((await provider.getToken()).token).toBe("token-1");
    expect(credential.calls).toBe(2);
    await clock.advance(0);
    expect((await provider.getToken()).token).toBe("token-2");
  });

  it("works with tokens that live only 4 seconds", async () => {
    const { clock, credential, provider } = harness();
    credential.lifetimeInMs = 4_000;
    const seen = new Set<string>();
    for (let t = 0; t < 20_000; t += 100) {
      const token = await provider.getToken();
      expect(token.expiresOnTimestamp - clock.now()).toBeGreaterThanOrEqual(500);
      seen.add(token.token);
      await clock.advance(100);
    }
    // One refresh per ~3 s of a 4 s token (window: a quarter of the lifetime), all in the background.
    expect(seen.size).toBeGreaterThanOrEqual(6);
    expect(credential.calls).toBeLessThanOrEqual(8);
    expect(provider.stats.refreshes).toBe(credential.calls - 1);
  });
});

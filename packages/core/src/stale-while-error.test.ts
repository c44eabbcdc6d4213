import { describe, expect, it } from "vitest";
import { harness, rejectionOf } from "./testing/harness.js";

const HOUR = 3_600_000;

describe("stale-while-error", () => {
  it("keeps serving the still-valid token while refreshes fail, and retries with growing delays", async () => {
    const { clock, credential, provider } = harness();
    await provider.getToken();
    for (let i = 0; i < 5; i++) credential.script.push(new Error("IMDS unreachable"));
    await clock.advance(HOUR - 600_000);
    expect(credential.calls).toBe(2);
    expect(provider.stats.failures).toBe(1);
    expect((await provider.getToken()).token).toBe("token-1");

    // Equal jitter at random()=0.5: 750 ms, 1.5 s, 3 s, 6 s ...
    const callTimes: number[] = [];
    const start = clock.now();
    while (credential.calls < 7) {
      const before = credential.calls;
      await clock.advance(50);
      if (credential.calls > before) callTimes.push(clock.now() - start);
      if (credential.calls < 7) expect((await provider.getToken()).token).toBe("token-1");
    }
    const gaps = callTimes.map((t, i) => t - (callTimes[i - 1] ?? 0));
    for (let i = 1; i < gaps.length; i++) expect(gaps[i] as number).toBeGreaterThan(gaps[i - 1] as number);
    expect(provider.stats.failures).toBe(5);
    expect((await provider.getToken()).token).toBe("token-2");
    expect(callTimes).toEqual([750, 2250, 5250, 11250, 23250]);
  });

  it("retries before the token runs out even with a large backoff", async () => {
    const { clock, credential, provider } = harness({
      retryInitialDelayInMs: 60_000,
      retryMaxDelayInMs: 60_000,
    });
    credential.lifetimeInMs = 10_000;
    await provider.getToken();
    credential.script.push(new Error("down"), new Error("down"));
    // Refresh window: a quarter of 10 s, so the first (failing) refresh runs at 7.5 s.
    await clock.advance(7_500);
    expect(credential.calls).toBe(2);
    // Retries are capped to a quarter of the 1.25 s left before the must-refresh point.
    await clock.advance(1_000);
    expect(credential.calls).toBe(4);
    expect((await provider.getToken()).token).toBe("token-2");
  });

  it("rejects a forced refresh that fails but keeps the valid token for others", async () => {
    const { credential, provider } = harness();
    await provider.getToken();
    credential.script.push(new Error("boom"));
    const error = await rejectionOf(provider.getToken({ forceRefresh: true }));
    expect(error.code).toBe("CREDENTIAL_FAILED");
    expect((await provider.getToken()).token).toBe("token-1");
  });

  it("fails once the token is inside the must-refresh margin and the credential still fails", async () => {
    const { clock, credential, provider } = harness();
    await provider.getToken();
    credential.script.push(...Array.from({ length: 100 }, () => new Error("down")));
    await clock.advance(HOUR - 119_000);
    const error = await rejectionOf(provider.getToken());
    expect(error.code).toBe("CREDENTIAL_FAILED");
  });
});

import { describe, expect, it } from "vitest";
import { harness } from "./testing/harness.js";

const HOUR = 3_600_000;

describe("same-token", () => {
  it("counts a refresh that returns the same token, treats it as not refreshed and backs off", async () => {
    const { clock, credential, provider } = harness();
    const first = credential.mint(HOUR);
    credential.script.push(first);
    // The identity endpoint keeps answering with its cached token for a long time.
    for (let i = 0; i < 1000; i++) credential.script.push(first);
    await provider.getToken();
    await clock.advance(HOUR - 600_000);
    expect(credential.calls).toBe(2);
    expect(provider.stats.sameTokenReturned).toBe(1);

    // Five more minutes: equal-jitter backoff 750 ms, 1.5 s, 3 s, ... capped at 60 s => few calls, no spin.
    await clock.advance(300_000);
    expect(credential.calls).toBeGreaterThan(3);
    expect(credential.calls).toBeLessThan(15);
    expect(provider.stats.sameTokenReturned).toBe(credential.calls - 1);
    expect((await provider.getToken()).token).toBe(first.token);
  });

  it("stops backing off once a new token arrives", async () => {
    const { clock, credential, provider } = harness();
    const first = credential.mint(HOUR);
    credential.script.push(first, first, first);
    await provider.getToken();
    await clock.advance(HOUR - 600_000 + 10_000);
    expect(credential.calls).toBe(4);
    const next = await provider.getToken();
    expect(next.token).not.toBe(first.token);
    const calls = credential.calls;
    await clock.advance(HOUR - 600_000 - 20_000);
    expect(credential.calls).toBe(calls);
  });

  it("does not spin with full jitter and random() = 0", async () => {
    const { clock, credential, provider } = harness({ retryJitter: "full", random: () => 0 });
    const first = credential.mint(HOUR);
    credential.script.push(first);
    for (let i = 0; i < 100_000; i++) credential.script.push(first);
    await provider.getToken();
    await clock.advance(HOUR - 600_000 + 1_000);
    expect(credential.calls).toBeLessThanOrEqual(22);
  });
});

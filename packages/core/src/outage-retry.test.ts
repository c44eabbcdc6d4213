import type { AccessToken } from "@azure/core-auth";
import { describe, expect, it } from "vitest";
import { FakeClock } from "./testing/fake-clock.js";
import { harness, rejectionOf } from "./testing/harness.js";

/** An identity endpoint that is down (throws, optionally with a Retry-After) until `up` is set. */
class OutageCredential {
  calls = 0;
  up = false;
  retryAfter: string | undefined;
  serial = 0;
  constructor(readonly clock: FakeClock) {}
  async getToken(): Promise<AccessToken> {
    this.calls++;
    if (!this.up) {
      const headers = new Map(this.retryAfter ? [["retry-after", this.retryAfter]] : []);
      throw Object.assign(new Error("ManagedIdentityCredential: 429 Too Many Requests"), {
        statusCode: 429,
        response: { headers },
      });
    }
    this.serial++;
    return { token: `token-${this.serial}`, expiresOnTimestamp: this.clock.now() + 3_600_000 };
  }
}

function outage(options: Parameters<typeof harness>[0] = {}) {
  const clock = new FakeClock();
  const credential = new OutageCredential(clock);
  const { provider } = harness({ clock, credential: credential as never, random: Math.random, ...options });
  return { clock, credential, provider };
}

/** `loops` callers that ask again as soon as they get an answer, like pools retrying connections. */
function connectionLoops(provider: { getToken(): Promise<unknown> }, loops: number) {
  const state = { stop: false, successes: 0, failures: 0 };
  const done = Array.from({ length: loops }, async () => {
    while (!state.stop) {
      try {
        await provider.getToken();
        state.successes++;
        return;
      } catch {
        state.failures++;
      }
    }
  });
  return { state, done: Promise.all(done) };
}

describe("outage-retry: callers share one retry schedule while no token can be had", () => {
  it("keeps 10 connection loops at no more than 2 credential calls per second", async () => {
    const { clock, credential, provider } = outage();
    const { state } = connectionLoops(provider, 10);
    for (let i = 0; i < 100; i++) await clock.advance(100);
    // 10 s of outage: the first call, then one call per 500-1000 ms.
    expect(credential.calls).toBeGreaterThanOrEqual(10);
    expect(credential.calls).toBeLessThanOrEqual(21);
    expect(state.failures).toBeGreaterThan(credential.calls);
    state.stop = true;
  });

  it("lets connections succeed within a second of the endpoint recovering", async () => {
    const { clock, credential, provider } = outage();
    const { state, done } = connectionLoops(provider, 10);
    for (let i = 0; i < 50; i++) await clock.advance(100);
    credential.up = true;
    const recoveredAt = clock.now();
    while (state.successes < 10) await clock.advance(10);
    expect(clock.now() - recoveredAt).toBeLessThanOrEqual(1_000);
    await done;
    expect(credential.calls - credential.serial).toBeLessThanOrEqual(11);
  });

  it("honours Retry-After: no call before it, callers wait for the scheduled attempt", async () => {
    const { clock, credential, provider } = outage();
    credential.retryAfter = "5";
    await rejectionOf(provider.getToken());
    credential.up = true;
    const waiting = [provider.getToken(), provider.getToken(), provider.getToken()];
    await clock.advance(4_999);
    expect(credential.calls).toBe(1);
    await clock.advance(1);
    const tokens = await Promise.all(waiting);
    expect(new Set(tokens.map((t) => t.token))).toEqual(new Set(["token-1"]));
    expect(credential.calls).toBe(2);
  });

  it("answers at once when the next attempt is further away than getTokenTimeoutInMs", async () => {
    const { clock, credential, provider } = outage({ getTokenTimeoutInMs: 10_000 });
    credential.retryAfter = "45";
    await rejectionOf(provider.getToken());
    const error = await rejectionOf(provider.getToken());
    expect(error.code).toBe("CREDENTIAL_FAILED");
    expect(error.message).toContain("429 Too Many Requests");
    expect(error.message).toContain("next attempt is in 45 s");
    expect(credential.calls).toBe(1);
    // A Retry-After beyond retryMaxDelayInMs (60 s) is capped there.
    credential.retryAfter = "3600";
    await clock.advance(45_000);
    await rejectionOf(provider.getToken());
    expect(credential.calls).toBe(2);
    const capped = await rejectionOf(provider.getToken());
    expect(capped.message).toContain("next attempt is in 60 s");
  });

  it("lets a caller abort its wait while the others still get the scheduled attempt", async () => {
    const { clock, credential, provider } = outage();
    await rejectionOf(provider.getToken());
    credential.up = true;
    const controller = new AbortController();
    const aborted = rejectionOf(provider.getToken({ abortSignal: controller.signal }));
    const other = provider.getToken();
    controller.abort();
    expect((await aborted).code).toBe("ABORTED");
    await clock.advance(1_000);
    expect((await other).token).toBe("token-1");
    expect(credential.calls).toBe(2);
  });

  it("does not call the endpoint while nobody asks", async () => {
    const { clock, credential, provider } = outage();
    await rejectionOf(provider.getToken());
    await clock.advance(600_000);
    expect(credential.calls).toBe(1);
    expect(clock.pending).toBe(0);
  });

  it("rejects waiting callers with PROVIDER_CLOSED when the provider is closed", async () => {
    const { credential, provider } = outage();
    await rejectionOf(provider.getToken());
    const waiting = rejectionOf(provider.getToken());
    provider.close();
    expect((await waiting).code).toBe("PROVIDER_CLOSED");
    expect(credential.calls).toBe(1);
  });
});

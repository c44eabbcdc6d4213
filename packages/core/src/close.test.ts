import { describe, expect, it } from "vitest";
import { flush } from "./testing/fake-clock.js";
import { harness, rejectionOf } from "./testing/harness.js";

describe("close", () => {
  it("clears timers, is idempotent and rejects later calls with PROVIDER_CLOSED", async () => {
    const { clock, provider } = harness();
    await provider.getToken();
    expect(clock.pending).toBe(1);
    provider.close();
    provider.close();
    expect(clock.pending).toBe(0);
    expect(provider.stats.expiresOnTimestamp).toBeUndefined();
    expect((await rejectionOf(provider.getToken())).code).toBe("PROVIDER_CLOSED");
  });

  it("rejects callers waiting on an in-flight fetch and aborts the credential call", async () => {
    const { clock, credential, provider } = harness();
    credential.script.push("hang");
    const waiting = rejectionOf(provider.getToken());
    await flush();
    provider.close();
    expect((await waiting).code).toBe("PROVIDER_CLOSED");
    expect(credential.signals[0]?.aborted).toBe(true);
    expect(clock.pending).toBe(0);
  });

  it("schedules nothing after close even if a fetch settles late", async () => {
    const { clock, credential, provider } = harness();
    await provider.getToken();
    await clock.advance(3_000_000);
    provider.close();
    await clock.advance(3_600_000);
    expect(clock.pending).toBe(0);
    expect(credential.calls).toBe(2);
  });
});

import { describe, expect, it } from "vitest";
import { flush } from "./testing/fake-clock.js";
import { deferred } from "./testing/fake-credential.js";
import { harness, rejectionOf } from "./testing/harness.js";

describe("abort", () => {
  it("rejects only the aborted caller; the shared fetch continues for the others", async () => {
    const { clock, credential, provider } = harness();
    const pending = deferred<{ token: string; expiresOnTimestamp: number }>();
    credential.script.push(pending.promise);
    const controller = new AbortController();
    const aborted = rejectionOf(provider.getToken({ abortSignal: controller.signal }));
    const other = provider.getToken();
    await flush();
    controller.abort();
    const error = await aborted;
    expect(error.code).toBe("ABORTED");
    expect(credential.signals[0]?.aborted).toBe(false);
    pending.resolve({ token: "shared", expiresOnTimestamp: clock.now() + 3_600_000 });
    expect((await other).token).toBe("shared");
    expect(credential.calls).toBe(1);
  });

  it("rejects at once when the signal is already aborted, without calling the credential", async () => {
    const { credential, provider } = harness();
    const error = await rejectionOf(provider.getToken({ abortSignal: AbortSignal.abort() }));
    expect(error.code).toBe("ABORTED");
    expect(credential.calls).toBe(0);
  });

  it("removes its abort listener once the token arrives", async () => {
    const { provider } = harness();
    const controller = new AbortController();
    await provider.getToken({ abortSignal: controller.signal });
    controller.abort();
    expect((await provider.getToken({ abortSignal: new AbortController().signal })).token).toBe("token-1");
  });
});

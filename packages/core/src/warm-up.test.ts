import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { resetSharedTokenProviders } from "./get-shared-token-provider.js";
import { resolveEntraTarget } from "./resolve-entra-target.js";
import { FakeClock } from "./testing/fake-clock.js";
import { FakeCredential } from "./testing/fake-credential.js";
import { rejectionOf } from "./testing/harness.js";
import { warmUp } from "./warm-up.js";

const HOST = "srv.postgres.database.azure.com";

beforeEach(() => resetSharedTokenProviders());
afterEach(() => resetSharedTokenProviders());

describe("warm start: withEntra fetches the token as soon as it is called", () => {
  it("starts one fetch when the target is resolved, and warmUp waits for it", async () => {
    const credential = new FakeCredential(new FakeClock());
    const target = resolveEntraTarget("postgresql", { host: HOST }, { credential, env: {} });
    resolveEntraTarget("postgresql", { host: HOST, database: "other" }, { credential, env: {} });
    expect(credential.calls).toBe(1);
    await warmUp();
    expect(target.provider.stats.expiresOnTimestamp).toBeDefined();
    expect(target.provider.stats.cacheHits).toBe(0);
    await target.provider.getToken();
    expect(credential.calls).toBe(1);
  });

  it("starts nothing with warmStart: false", () => {
    const credential = new FakeCredential(new FakeClock());
    resolveEntraTarget("postgresql", { host: HOST }, { credential, env: {}, warmStart: false });
    expect(credential.calls).toBe(0);
  });

  it("keeps a failed warm start out of unhandled rejections, and warmUp reports it", async () => {
    const credential = new FakeCredential(new FakeClock());
    credential.script.push(new Error("no managed identity"), new Error("still none"));
    resolveEntraTarget("postgresql", { host: HOST }, { credential, env: {} });
    // Vitest fails the run on an unhandled rejection: give one a chance to surface.
    await new Promise((resolve) => setTimeout(resolve, 20));
    const error = await rejectionOf(warmUp());
    expect(error.code).toBe("CREDENTIAL_FAILED");
    expect(error.message).toContain("still none");
    expect(credential.calls).toBe(2);
  });

  it("gives up after timeoutInMs with TOKEN_TIMEOUT, and honours an abort signal", async () => {
    const credential = new FakeCredential(new FakeClock());
    credential.script.push("hang");
    resolveEntraTarget("postgresql", { host: HOST }, { credential, env: {} });
    const error = await rejectionOf(warmUp({ timeoutInMs: 50 }));
    expect(error.code).toBe("TOKEN_TIMEOUT");
    expect(error.message).toContain("50 ms");
    const controller = new AbortController();
    const aborted = rejectionOf(warmUp({ abortSignal: controller.signal }));
    controller.abort();
    expect((await aborted).code).toBe("ABORTED");
    expect((await rejectionOf(warmUp({ timeoutInMs: 0 }))).code).toBe("INVALID_SETTING");
  });

  it("resolves at once when no provider exists", async () => {
    await expect(warmUp()).resolves.toBeUndefined();
  });
});

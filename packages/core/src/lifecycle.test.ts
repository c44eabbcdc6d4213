import { setFlagsFromString } from "node:v8";
import { runInNewContext } from "node:vm";
import type { AccessToken } from "@azure/core-auth";
import { afterEach, describe, expect, it } from "vitest";
import { createTokenProvider, holdTokenProvider } from "./create-token-provider.js";
import { getSharedTokenProvider, resetSharedTokenProviders } from "./get-shared-token-provider.js";
import { processRegistry } from "./process-registry.js";
import { harness, SCOPE } from "./testing/harness.js";

setFlagsFromString("--expose-gc");
const gc = runInNewContext("gc") as () => void;

/** Full collections until finalizers and WeakRefs have settled. */
async function collect(): Promise<void> {
  for (let i = 0; i < 6; i++) {
    gc();
    await new Promise((resolve) => setImmediate(resolve));
  }
}

const HOUR = 3_600_000;

/** A credential of the real clock: tokens that live `lifetimeInMs`. */
class ShortLivedCredential {
  calls = 0;
  constructor(readonly lifetimeInMs: number) {}
  async getToken(): Promise<AccessToken> {
    this.calls++;
    return { token: `t-${this.calls}-${Math.random()}`, expiresOnTimestamp: Date.now() + this.lifetimeInMs };
  }
}

afterEach(() => resetSharedTokenProviders());

describe("lifecycle: a provider refreshes ahead only while held", () => {
  it("arms no refresh timer until something holds it, and disarms it on release", async () => {
    const { clock, credential, provider } = harness({ backgroundRefresh: "while-held" });
    await provider.getToken();
    expect(clock.pending).toBe(0);
    const owner = {};
    const release = holdTokenProvider(provider, owner);
    expect(provider.stats.holds).toBe(1);
    expect(clock.pending).toBe(1);
    await clock.advance(HOUR - 600_000);
    expect(credential.calls).toBe(2);
    release();
    release();
    expect(provider.stats.holds).toBe(0);
    expect(clock.pending).toBe(0);
    await clock.advance(10 * HOUR);
    expect(credential.calls).toBe(2);
  });

  it("refreshes on use when nobody holds it: the caller gets the cached token at once", async () => {
    const { clock, credential, provider } = harness({ backgroundRefresh: "while-held" });
    const first = await provider.getToken();
    await clock.advance(HOUR - 300_000);
    expect(credential.calls).toBe(1);
    // Inside the refresh window: served from the cache, and the refresh starts behind it.
    expect(await provider.getToken()).toBe(first);
    expect(credential.calls).toBe(2);
    await clock.advance(0);
    expect((await provider.getToken()).token).toBe("token-2");
  });

  it("keeps refreshing while any of several holders remains", async () => {
    const { clock, credential, provider } = harness({ backgroundRefresh: "while-held" });
    await provider.getToken();
    const a = holdTokenProvider(provider, {});
    const b = holdTokenProvider(provider, {});
    a();
    await clock.advance(HOUR - 600_000);
    expect(credential.calls).toBe(2);
    b();
    await clock.advance(2 * HOUR);
    expect(credential.calls).toBe(2);
  });

  it("ends a hold when its owner is garbage-collected", async () => {
    const { provider } = harness({ backgroundRefresh: "while-held" });
    (() => {
      holdTokenProvider(provider, { connection: "leaked" });
    })();
    expect(provider.stats.holds).toBe(1);
    await collect();
    expect(provider.stats.holds).toBe(0);
  });

  it("is a no-op for providers it did not make", () => {
    const foreign = { scope: SCOPE, getToken: async () => ({ token: "x", expiresOnTimestamp: 0 }) };
    expect(() => holdTokenProvider(foreign as never, {})()).not.toThrow();
  });
});

describe("lifecycle: unused providers and their credentials are collected", () => {
  it("collects 2,000 shared providers used once, with their credentials, and prunes the registry", async () => {
    const registry = processRegistry();
    await collect();
    const before = registry.providers.size;
    const credentials: WeakRef<object>[] = [];
    await (async () => {
      const pending: Promise<unknown>[] = [];
      for (let i = 0; i < 2_000; i++) {
        const credential = new ShortLivedCredential(HOUR);
        credentials.push(new WeakRef(credential));
        pending.push(getSharedTokenProvider({ credential, scope: SCOPE }).getToken());
      }
      await Promise.all(pending);
    })();
    expect(registry.providers.size).toBe(before + 2_000);
    await collect();
    expect(credentials.filter((ref) => ref.deref() !== undefined)).toHaveLength(0);
    expect(registry.providers.size).toBe(before);
  });

  it("collects a provider with a pending refresh timer (background refresh always on)", async () => {
    const credentialRef = await (async () => {
      const credential = new ShortLivedCredential(HOUR);
      const provider = createTokenProvider({ credential, scope: SCOPE });
      await provider.getToken();
      return new WeakRef(credential);
    })();
    await collect();
    expect(credentialRef.deref()).toBeUndefined();
  });

  it("makes no credential calls for abandoned shared providers of short-lived tokens", async () => {
    const credentials = Array.from({ length: 100 }, () => new ShortLivedCredential(400));
    await Promise.all(
      credentials.map((credential) => getSharedTokenProvider({ credential, scope: SCOPE }).getToken()),
    );
    // 400 ms tokens would be refreshed every ~300 ms by a provider that refreshes in the background.
    await new Promise((resolve) => setTimeout(resolve, 1_000));
    expect(credentials.reduce((sum, credential) => sum + credential.calls, 0)).toBe(100);
  });

  it("still refreshes in the background while a connection holds the shared provider", async () => {
    const credential = new ShortLivedCredential(400);
    const provider = getSharedTokenProvider({ credential, scope: SCOPE });
    await provider.getToken();
    const release = holdTokenProvider(provider, {});
    await new Promise((resolve) => setTimeout(resolve, 1_000));
    release();
    expect(credential.calls).toBeGreaterThanOrEqual(3);
  });
});

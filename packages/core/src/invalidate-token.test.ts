import { describe, expect, it } from "vitest";
import { reactToServerRejection } from "./react-to-server-rejection.js";
import { harness } from "./testing/harness.js";

describe("invalidate(token): only the token the server rejected is dropped", () => {
  it("keeps a fresh token when an old one is rejected late", async () => {
    const { credential, provider } = harness();
    const old = await provider.getToken();
    const fresh = await provider.getToken({ forceRefresh: true });
    expect(fresh.token).not.toBe(old.token);
    provider.invalidate(old.token);
    expect(await provider.getToken()).toBe(fresh);
    expect(credential.calls).toBe(2);
  });

  it("drops the cached token when that one is rejected, and anything without an argument", async () => {
    const { credential, provider } = harness();
    const first = await provider.getToken();
    provider.invalidate(first.token);
    const second = await provider.getToken();
    expect(second.token).not.toBe(first.token);
    provider.invalidate();
    expect((await provider.getToken()).token).not.toBe(second.token);
    expect(credential.calls).toBe(3);
  });

  it("is what reactToServerRejection does with the rejected token", async () => {
    const { credential, provider } = harness();
    const old = await provider.getToken();
    const fresh = await provider.getToken({ forceRefresh: true });
    const late = new Error("FATAL: The access token has expired. Acquire a new token and try again.");
    const described = reactToServerRejection(late, {
      engine: "postgresql",
      adapter: "@org/pg-entra",
      token: old.token,
      provider,
    });
    expect(described?.code).toBe("TOKEN_EXPIRED");
    expect(await provider.getToken()).toBe(fresh);
    reactToServerRejection(new Error(late.message), {
      engine: "postgresql",
      adapter: "@org/pg-entra",
      token: fresh.token,
      provider,
    });
    expect((await provider.getToken()).token).not.toBe(fresh.token);
    expect(credential.calls).toBe(3);
  });
});

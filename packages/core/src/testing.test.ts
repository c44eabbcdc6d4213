import { inspect } from "node:util";
import { describe, expect, it } from "vitest";
import { deriveUsername } from "./derive-username.js";
import { EntraAuthError } from "./entra-auth-error.js";
import { CANARY_TOKEN, createFakeTokenProvider, fakeJwt, fakeTlsSocket } from "./testing.js";
import { inspectTlsPeer } from "./tls-policy.js";

describe("@org/entra-core/testing", () => {
  it("builds JWT-shaped tokens that deriveUsername reads", () => {
    const token = fakeJwt({ upn: "dev@contoso.com" });
    expect(token.split(".")).toHaveLength(3);
    expect(token.endsWith(".c2lnbmF0dXJl")).toBe(true);
    expect(deriveUsername(token)).toBe("dev@contoso.com");
    expect(fakeJwt({ oid: "x" }, { signature: "c2ln" }).endsWith(".c2ln")).toBe(true);
    expect(deriveUsername(CANARY_TOKEN)).toBe("canary-app");
    expect(CANARY_TOKEN.split(".")[2]).toHaveLength(39);
  });

  it("hands out the canary for an hour and counts calls, invalidations and closes", async () => {
    const provider = createFakeTokenProvider();
    expect(provider.scope).toBe("https://ossrdbms-aad.database.windows.net/.default");
    const before = Date.now();
    const { token, expiresOnTimestamp } = await provider.getToken();
    expect(token).toBe(CANARY_TOKEN);
    expect(expiresOnTimestamp).toBeGreaterThanOrEqual(before + 3_600_000);
    provider.invalidate();
    provider.close();
    expect(await provider.getToken()).toMatchObject({ token: CANARY_TOKEN });
    expect([provider.calls, provider.invalidations, provider.closes]).toEqual([2, 1, 1]);
    // No cache, no credential: every counter stays zero.
    expect(Object.values(provider.stats).filter((value) => value !== 0)).toEqual([undefined]);
    expect(provider.stats.expiresOnTimestamp).toBeUndefined();
  });

  it("hands out tokens in turn, the last one repeating, and lets a test set the next token", async () => {
    const provider = createFakeTokenProvider({ tokens: ["token-1", "token-2"], token: "ignored" });
    expect(provider.token).toBe("token-1");
    const tokens = [];
    for (let i = 0; i < 3; i++) tokens.push((await provider.getToken()).token);
    expect(tokens).toEqual(["token-1", "token-2", "token-2"]);
    provider.token = "token-3";
    expect((await provider.getToken()).token).toBe("token-3");
    expect((await provider.getToken()).token).toBe("token-3");
    expect(provider.token).toBe("token-3");
  });

  it("takes a token, scope and lifetime", async () => {
    const provider = createFakeTokenProvider({
      token: "t",
      scope: "https://database.windows.net/.default",
      expiresInMs: 1_000,
    });
    const before = Date.now();
    const answer = await provider.getToken();
    expect(answer.token).toBe("t");
    expect(answer.expiresOnTimestamp).toBeGreaterThanOrEqual(before + 1_000);
    expect(answer.expiresOnTimestamp).toBeLessThan(before + 3_600_000);
    expect(provider.scope).toBe("https://database.windows.net/.default");
    expect(createFakeTokenProvider({ tokens: [] }).token).toBe(CANARY_TOKEN);
  });

  it("records each call's options and honours an aborted signal", async () => {
    const provider = createFakeTokenProvider({ tokens: ["token-1", "token-2"] });
    const controller = new AbortController();
    await provider.getToken({ abortSignal: controller.signal, forceRefresh: true });
    controller.abort(new Error("gave up"));
    await expect(provider.getToken({ abortSignal: controller.signal })).rejects.toThrow("gave up");
    expect(provider.requests).toEqual([
      { abortSignal: controller.signal, forceRefresh: true },
      { abortSignal: controller.signal },
    ]);
    expect(provider.calls).toBe(2);
    expect((await provider.getToken()).token).toBe("token-2");
    expect(provider.requests[2]).toBeUndefined();
  });

  it("rejects with the given error until it is cleared", async () => {
    const failure = new EntraAuthError("CREDENTIAL_FAILED", "no identity");
    const provider = createFakeTokenProvider({ error: failure });
    await expect(provider.getToken()).rejects.toBe(failure);
    provider.error = undefined;
    await expect(provider.getToken()).resolves.toMatchObject({ token: CANARY_TOKEN });
    expect(provider.calls).toBe(2);
  });

  it("shows no token to util.inspect or JSON.stringify", async () => {
    const provider = createFakeTokenProvider({ tokens: ["secret-token-1", "secret-token-2"] });
    await provider.getToken();
    const shown = `${inspect(provider, { showHidden: true, depth: 10 })}\n${JSON.stringify(provider)}`;
    expect(shown).not.toContain("secret-token");
  });

  it("fakes the TLS socket a password hook checks: verified, for localhost, unless told otherwise", () => {
    expect(inspectTlsPeer(fakeTlsSocket(), "localhost")).toBeUndefined();
    expect(inspectTlsPeer(fakeTlsSocket(), "127.0.0.1")).toBeUndefined();
    expect(inspectTlsPeer(fakeTlsSocket({ names: ["db.example.com"] }), "localhost")).toBeDefined();
    expect(inspectTlsPeer(fakeTlsSocket({ authorized: false }), "localhost")).toBeDefined();
    expect(inspectTlsPeer(fakeTlsSocket({ encrypted: false }), "localhost")).toBeDefined();
  });
});

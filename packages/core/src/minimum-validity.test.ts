import { describe, expect, it } from "vitest";
import { harness, rejectionOf } from "./testing/harness.js";

const MINUTE = 60_000;
const HOUR = 60 * MINUTE;

describe("minimumValidityInMs: a token that must outlive its hand-out", () => {
  it("replaces a cached token with less left than the caller needs", async () => {
    const { clock, credential, provider } = harness({ backgroundRefresh: "while-held" });
    const first = await provider.getToken();
    await clock.advance(HOUR - 4 * MINUTE);
    // 4 min left: outside the 2 min must-refresh margin, so plain callers still get it...
    expect(await provider.getToken()).toBe(first);
    await clock.advance(0);
    const calls = credential.calls;
    // ...but a URL that must stay usable for 5 min gets a fresh token.
    const long = await provider.getToken({ minimumValidityInMs: 5 * MINUTE });
    expect(long.expiresOnTimestamp - clock.now()).toBeGreaterThanOrEqual(5 * MINUTE);
    expect(credential.calls).toBeLessThanOrEqual(calls + 1);
  });

  it("refuses a token the credential keeps serving from its cache with too little left", async () => {
    const { clock, credential, provider } = harness({ backgroundRefresh: "while-held" });
    const first = credential.mint(HOUR);
    credential.script.push(first, first, first);
    await provider.getToken();
    await clock.advance(HOUR - 3 * MINUTE);
    const error = await rejectionOf(provider.getToken({ minimumValidityInMs: 5 * MINUTE }));
    expect(error.code).toBe("CREDENTIAL_FAILED");
    expect(error.message).toContain("expires in 180 s; at least 300 s are needed");
    expect(error.message).not.toContain(first.token);
  });

  it("accepts a fresh short-lived token with half its lifetime left", async () => {
    const { clock, credential, provider } = harness();
    credential.lifetimeInMs = 4 * MINUTE;
    const token = await provider.getToken({ minimumValidityInMs: 5 * MINUTE });
    expect(token.expiresOnTimestamp - clock.now()).toBe(4 * MINUTE);
  });

  it("rejects a malformed minimum with INVALID_SETTING", async () => {
    const { provider } = harness();
    expect((await rejectionOf(provider.getToken({ minimumValidityInMs: -1 }))).code).toBe("INVALID_SETTING");
    expect((await rejectionOf(provider.getToken({ minimumValidityInMs: Number.NaN }))).code).toBe(
      "INVALID_SETTING",
    );
  });
});

describe("token lifetimes read from the JWT", () => {
  it("measures a token's lifetime from its iat and exp claims", async () => {
    const { jwtLifetimeInMs } = await import("./decode-jwt-payload.js");
    const { fakeJwt } = await import("./testing.js");
    expect(jwtLifetimeInMs(fakeJwt({ iat: 1_000, exp: 4_600 }))).toBe(HOUR);
    expect(jwtLifetimeInMs(fakeJwt({ nbf: 1_000, exp: 1_300 }))).toBe(5 * MINUTE);
    expect(jwtLifetimeInMs(fakeJwt({ exp: 1_300 }))).toBeUndefined();
    expect(jwtLifetimeInMs(fakeJwt({ iat: 2_000, exp: 1_300 }))).toBeUndefined();
    expect(jwtLifetimeInMs("not-a-jwt")).toBeUndefined();
  });
});

import { beforeAll, describe, expect, it } from "vitest";
import { resolveIdentities } from "./resolve-identities.js";
import { createTokenIssuer, type TokenIssuer } from "./token-issuer.js";
import { principalNameOf, validateToken } from "./token-validation.js";

const resource = "https://ossrdbms-aad.database.windows.net";
const nowMs = Date.UTC(2026, 10, 26, 12, 0, 0);
const nowSeconds = nowMs / 1000;

function decode(token: string): { header: Record<string, unknown>; payload: Record<string, unknown> } {
  const [header = "", payload = ""] = token.split(".");
  return {
    header: JSON.parse(Buffer.from(header, "base64url").toString()),
    payload: JSON.parse(Buffer.from(payload, "base64url").toString()),
  };
}

describe("minted managed-identity tokens", () => {
  let issuer: TokenIssuer;
  const [system, user] = resolveIdentities([
    { name: "orders-app", kind: "system" },
    { name: "orders-identity", kind: "user", clientId: "11111111-2222-4333-8444-555555555555" },
  ]);
  if (!system || !user) throw new Error("identities");

  beforeAll(async () => {
    issuer = await createTokenIssuer({ now: () => nowMs });
  });

  it("has the v1 managed-identity header and payload shape", () => {
    const { token, expiresOn } = issuer.mintToken({
      identity: system,
      audience: resource,
      lifetimeInSeconds: 3600,
    });
    const { header, payload } = decode(token);
    expect(header).toEqual({ typ: "JWT", alg: "RS256", kid: issuer.kid, x5t: issuer.kid });
    expect(payload).toMatchObject({
      aud: resource,
      iss: `https://sts.windows.net/${issuer.tenantId}/`,
      idp: `https://sts.windows.net/${issuer.tenantId}/`,
      iat: nowSeconds,
      nbf: nowSeconds,
      exp: nowSeconds + 3600,
      appid: system.clientId,
      appidacr: "2",
      idtyp: "app",
      oid: system.objectId,
      sub: system.objectId,
      tid: issuer.tenantId,
      ver: "1.0",
      xms_mirid: `/subscriptions/00000000-0000-0000-0000-00000000e417/resourcegroups/entra-emulator/providers/Microsoft.Web/sites/orders-app`,
    });
    for (const claim of ["aio", "rh", "uti"]) expect(typeof payload[claim]).toBe("string");
    expect(expiresOn).toBe(nowSeconds + 3600);
  });

  it("uses the user-assigned identity's ARM id and client id", () => {
    const { token } = issuer.mintToken({ identity: user, audience: resource, lifetimeInSeconds: 60 });
    const { payload } = decode(token);
    expect(payload.appid).toBe("11111111-2222-4333-8444-555555555555");
    expect(payload.xms_mirid).toMatch(
      /\/resourcegroups\/entra-emulator\/providers\/Microsoft\.ManagedIdentity\/userAssignedIdentities\/orders-identity$/,
    );
  });

  it("mints distinct tokens for the same request", () => {
    const a = issuer.mintToken({ identity: system, audience: resource, lifetimeInSeconds: 60 });
    const b = issuer.mintToken({ identity: system, audience: resource, lifetimeInSeconds: 60 });
    expect(a.token).not.toBe(b.token);
  });

  it("publishes the signing key as a JWKS", () => {
    expect(issuer.jwks.keys).toHaveLength(1);
    expect(issuer.jwks.keys[0]).toMatchObject({ kty: "RSA", alg: "RS256", use: "sig", kid: issuer.kid });
  });

  describe("validation", () => {
    const validate = (token: string, overrides: Partial<Parameters<typeof validateToken>[1]> = {}) =>
      validateToken(token, {
        audiences: [resource],
        tenantId: issuer.tenantId,
        jwks: issuer.jwks,
        nowMs,
        ...overrides,
      });

    it("accepts a fresh token and names the principal after xms_mirid", () => {
      const { token } = issuer.mintToken({ identity: user, audience: resource, lifetimeInSeconds: 3600 });
      const result = validate(token);
      expect(result).toMatchObject({ ok: true, principalName: "orders-identity" });
    });

    it("accepts the public key instead of the JWKS", () => {
      const { token } = issuer.mintToken({ identity: user, audience: resource, lifetimeInSeconds: 3600 });
      expect(validate(token, { jwks: undefined, publicKey: issuer.publicKey }).ok).toBe(true);
    });

    it("rejects an expired token, within the clock skew only", () => {
      const { token } = issuer.mintToken({
        identity: system,
        audience: resource,
        lifetimeInSeconds: 60,
        issuedAt: nowSeconds - 100,
      });
      expect(validate(token)).toMatchObject({ ok: false, reason: "expired" });
      expect(validate(token, { clockSkewInSeconds: 60 }).ok).toBe(true);
    });

    it("rejects a token whose nbf is in the future beyond the skew", () => {
      const future = issuer.mintToken({
        identity: system,
        audience: resource,
        lifetimeInSeconds: 3600,
        notBeforeOffsetInSeconds: 120,
      });
      expect(validate(future.token)).toMatchObject({ ok: false, reason: "invalid" });
      const nearFuture = issuer.mintToken({
        identity: system,
        audience: resource,
        lifetimeInSeconds: 3600,
        notBeforeOffsetInSeconds: 20,
      });
      expect(validate(nearFuture.token).ok).toBe(true);
    });

    it("accepts the audience with or without a trailing slash", () => {
      const slashed = issuer.mintToken({ identity: system, audience: `${resource}/`, lifetimeInSeconds: 60 });
      expect(validate(slashed.token).ok).toBe(true);
      const plain = issuer.mintToken({ identity: system, audience: resource, lifetimeInSeconds: 60 });
      expect(validate(plain.token, { audiences: [`${resource}/`] }).ok).toBe(true);
    });

    it("rejects another audience", () => {
      const { token } = issuer.mintToken({
        identity: system,
        audience: "https://database.windows.net/",
        lifetimeInSeconds: 60,
      });
      expect(validate(token)).toMatchObject({ ok: false, reason: "audience" });
    });

    it("rejects a bad signature", () => {
      const { token } = issuer.mintToken({
        identity: system,
        audience: resource,
        lifetimeInSeconds: 60,
        signature: "bad",
      });
      expect(validate(token)).toMatchObject({ ok: false, reason: "invalid" });
    });

    it("rejects a token signed by another issuer's key", async () => {
      const other = await createTokenIssuer({ now: () => nowMs });
      const { token } = other.mintToken({ identity: system, audience: resource, lifetimeInSeconds: 60 });
      expect(validate(token)).toMatchObject({ ok: false, reason: "invalid" });
      expect(validate(token, { jwks: undefined, publicKey: issuer.publicKey })).toMatchObject({
        ok: false,
        reason: "invalid",
      });
    });

    it("rejects a token of another tenant", () => {
      const { token } = issuer.mintToken({
        identity: system,
        audience: resource,
        lifetimeInSeconds: 60,
        tenantId: "99999999-9999-4999-8999-999999999999",
      });
      expect(validate(token)).toMatchObject({ ok: false, reason: "invalid" });
    });

    it("accepts the v2 issuer of the tenant", () => {
      const { token } = issuer.mintToken({
        identity: system,
        audience: resource,
        lifetimeInSeconds: 60,
        claims: { iss: `https://login.microsoftonline.com/${issuer.tenantId}/v2.0`, ver: "2.0" },
      });
      expect(validate(token).ok).toBe(true);
    });

    it("rejects malformed tokens and other algorithms", () => {
      expect(validate("not-a-jwt")).toMatchObject({ ok: false, reason: "invalid" });
      expect(validate("a.b.c")).toMatchObject({ ok: false, reason: "invalid" });
      const { token } = issuer.mintToken({ identity: system, audience: resource, lifetimeInSeconds: 60 });
      const [, payload, signature] = token.split(".");
      const none = Buffer.from(JSON.stringify({ alg: "none", typ: "JWT" })).toString("base64url");
      expect(validate(`${none}.${payload}.${signature}`)).toMatchObject({ ok: false, reason: "invalid" });
      const hs = Buffer.from(JSON.stringify({ alg: "HS256", typ: "JWT", kid: issuer.kid })).toString(
        "base64url",
      );
      expect(validate(`${hs}.${payload}.${signature}`)).toMatchObject({ ok: false, reason: "invalid" });
    });

    it("never puts the token in the detail", () => {
      const { token } = issuer.mintToken({ identity: system, audience: "x", lifetimeInSeconds: 60 });
      const result = validate(token);
      expect(result.ok).toBe(false);
      if (!result.ok) expect(result.detail).not.toContain(token.split(".")[1]);
    });
  });

  it("names user principals after upn, preferred_username or unique_name", () => {
    expect(principalNameOf({ upn: "ada@contoso.com" })).toBe("ada@contoso.com");
    expect(principalNameOf({ preferred_username: "bob@contoso.com" })).toBe("bob@contoso.com");
    expect(principalNameOf({ unique_name: "live.com#eve@outlook.com" })).toBe("live.com#eve@outlook.com");
    expect(principalNameOf({ oid: "x" })).toBeUndefined();
  });
});

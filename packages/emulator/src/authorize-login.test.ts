import { beforeAll, describe, expect, it } from "vitest";
import {
  authorizeLogin,
  authorizeSqlLogin,
  type LoginPolicy,
  type LoginRejectionReason,
  ossrdbmsResource,
  sqlDatabaseResource,
} from "./authorize-login.js";
import { resolveIdentities } from "./resolve-identities.js";
import { createTokenIssuer, type TokenIssuer } from "./token-issuer.js";

const nowMs = Date.UTC(2026, 10, 26, 12, 0, 0);
const [app, worker] = resolveIdentities([
  { name: "orders-app", kind: "system" },
  { name: "orders-worker", kind: "user" },
]) as [ReturnType<typeof resolveIdentities>[0], ReturnType<typeof resolveIdentities>[0]];

let issuer: TokenIssuer;
let policy: LoginPolicy;

beforeAll(async () => {
  issuer = await createTokenIssuer({ now: () => nowMs });
  policy = {
    tenantId: issuer.tenantId,
    jwks: issuer.jwks,
    nowMs,
    roles: { "orders-readers": [worker.objectId.toUpperCase()] },
  };
});

const login = (token: string, user: string) => ({
  token,
  user,
  database: "orders",
  remoteAddress: "127.0.0.1",
});

describe("authorize-login", () => {
  it("accepts the identity logging in as the role named after it", () => {
    const { token } = issuer.mintToken({ identity: app, audience: ossrdbmsResource, lifetimeInSeconds: 600 });
    expect(authorizeLogin(login(token, "orders-app"), policy)).toEqual({
      ok: true,
      backendUser: "orders-app",
    });
  });

  it("accepts the audience with a trailing slash", () => {
    const { token } = issuer.mintToken({
      identity: app,
      audience: `${ossrdbmsResource}/`,
      lifetimeInSeconds: 600,
    });
    expect(authorizeLogin(login(token, "orders-app"), policy).ok).toBe(true);
  });

  it("refuses another identity's role with principal", () => {
    const { token } = issuer.mintToken({ identity: app, audience: ossrdbmsResource, lifetimeInSeconds: 600 });
    expect(authorizeLogin(login(token, "orders-worker"), policy)).toEqual({ ok: false, reason: "principal" });
  });

  it("accepts a group role whose member list holds the token's oid (case-insensitive)", () => {
    const { token } = issuer.mintToken({
      identity: worker,
      audience: ossrdbmsResource,
      lifetimeInSeconds: 600,
    });
    expect(authorizeLogin(login(token, "orders-readers"), policy)).toEqual({
      ok: true,
      backendUser: "orders-readers",
    });
    const other = issuer.mintToken({ identity: app, audience: ossrdbmsResource, lifetimeInSeconds: 600 });
    expect(authorizeLogin(login(other.token, "orders-readers"), policy)).toEqual({
      ok: false,
      reason: "principal",
    });
  });

  it("maps user tokens by upn", () => {
    const { token } = issuer.mintToken({
      identity: app,
      audience: ossrdbmsResource,
      lifetimeInSeconds: 600,
      claims: { xms_mirid: undefined, idtyp: "user", upn: "ada@contoso.com" },
    });
    expect(authorizeLogin(login(token, "ada@contoso.com"), policy).ok).toBe(true);
  });

  it("does not treat inherited object properties as roles", () => {
    const { token } = issuer.mintToken({ identity: app, audience: ossrdbmsResource, lifetimeInSeconds: 600 });
    expect(authorizeLogin(login(token, "constructor"), policy)).toEqual({ ok: false, reason: "principal" });
  });

  it("passes validation failures through as the reason", () => {
    const expired = issuer.mintToken({
      identity: app,
      audience: ossrdbmsResource,
      lifetimeInSeconds: 60,
      issuedAt: nowMs / 1000 - 3600,
    });
    expect(authorizeLogin(login(expired.token, "orders-app"), policy)).toEqual({
      ok: false,
      reason: "expired",
    });
    const sql = issuer.mintToken({
      identity: app,
      audience: "https://database.windows.net/",
      lifetimeInSeconds: 60,
    });
    expect(authorizeLogin(login(sql.token, "orders-app"), policy)).toEqual({ ok: false, reason: "audience" });
    const bad = issuer.mintToken({
      identity: app,
      audience: ossrdbmsResource,
      lifetimeInSeconds: 60,
      signature: "bad",
    });
    expect(authorizeLogin(login(bad.token, "orders-app"), policy)).toEqual({ ok: false, reason: "invalid" });
    expect(authorizeLogin(login("a-password", "orders-app"), policy)).toEqual({
      ok: false,
      reason: "invalid",
    });
  });

  it("consumes injected rejections first, one per login", () => {
    const pendingRejections: LoginRejectionReason[] = ["expired", "invalid"];
    const { token } = issuer.mintToken({ identity: app, audience: ossrdbmsResource, lifetimeInSeconds: 600 });
    const withFaults = { ...policy, pendingRejections };
    expect(authorizeLogin(login(token, "orders-app"), withFaults)).toEqual({ ok: false, reason: "expired" });
    expect(authorizeLogin(login(token, "orders-app"), withFaults)).toEqual({ ok: false, reason: "invalid" });
    expect(authorizeLogin(login(token, "orders-app"), withFaults).ok).toBe(true);
    expect(pendingRejections).toEqual([]);
  });
});

describe("authorize-login for service principals", () => {
  const [sp] = resolveIdentities([{ name: "Orders API", kind: "servicePrincipal" }]) as [
    ReturnType<typeof resolveIdentities>[0],
  ];
  const servicePrincipals = [{ name: sp.name, objectId: sp.objectId, clientId: sp.clientId }];
  const appToken = (audience = ossrdbmsResource, claims: Record<string, unknown> = {}) =>
    issuer.mintToken({ identity: sp, audience, lifetimeInSeconds: 600, claims }).token;

  it("an app token names no principal: the registered service principal's display name is the user", () => {
    expect(authorizeLogin(login(appToken(), "Orders API"), { ...policy, servicePrincipals })).toEqual({
      ok: true,
      backendUser: "Orders API",
    });
    expect(authorizeLogin(login(appToken(), "orders-app"), { ...policy, servicePrincipals })).toEqual({
      ok: false,
      reason: "principal",
    });
    // Not registered (no pgaadauth_create_principal / CREATE AADUSER): refused.
    expect(authorizeLogin(login(appToken(), "Orders API"), policy)).toEqual({
      ok: false,
      reason: "principal",
    });
  });

  it("PostgreSQL matches the object id, MySQL and Azure SQL the client id", () => {
    const otherObject = appToken(ossrdbmsResource, { oid: "00000000-0000-4000-8000-0000000000aa" });
    expect(authorizeLogin(login(otherObject, "Orders API"), { ...policy, servicePrincipals }).ok).toBe(false);
    expect(
      authorizeLogin(login(otherObject, "Orders API"), {
        ...policy,
        servicePrincipals,
        servicePrincipalClaim: "appid",
      }).ok,
    ).toBe(true);
    const sqlPolicy = {
      tenantId: issuer.tenantId,
      jwks: issuer.jwks,
      nowMs,
      principals: [sp.name],
      servicePrincipals,
    };
    const sqlRequest = { database: "emulated-db", remoteAddress: "127.0.0.1" };
    expect(
      authorizeSqlLogin({ ...sqlRequest, token: appToken(sqlDatabaseResource) }, sqlPolicy),
    ).toMatchObject({
      ok: true,
      user: "Orders API",
      login: "Orders API",
    });
    const otherApp = appToken(sqlDatabaseResource, { appid: "00000000-0000-4000-8000-0000000000bb" });
    expect(authorizeSqlLogin({ ...sqlRequest, token: otherApp }, sqlPolicy)).toEqual({
      ok: false,
      reason: "principal",
    });
  });
});

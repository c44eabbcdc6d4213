import { describe, expect, it } from "vitest";
import { deriveUsername, servicePrincipalAppId } from "./derive-username.js";
import { resolveUsername } from "./resolve-username.js";

function jwt(payload: unknown): string {
  const part = (value: unknown) => Buffer.from(JSON.stringify(value)).toString("base64url");
  return `${part({ alg: "RS256", typ: "JWT" })}.${part(payload)}.signature`;
}

const MIRID =
  "/subscriptions/0000/resourcegroups/rg/providers/Microsoft.ManagedIdentity/userAssignedIdentities/my-app-identity";

describe("derive-username", () => {
  it("takes the last segment of xms_mirid first", () => {
    expect(deriveUsername(jwt({ xms_mirid: MIRID, upn: "u@contoso.com" }))).toBe("my-app-identity");
    expect(
      deriveUsername(
        jwt({ xms_mirid: "/subscriptions/0/resourceGroups/rg/providers/Microsoft.Web/sites/web-1/" }),
      ),
    ).toBe("web-1");
  });

  it("falls back to upn, preferred_username, unique_name in that order", () => {
    expect(deriveUsername(jwt({ upn: "a@c.com", preferred_username: "b@c.com", unique_name: "c" }))).toBe(
      "a@c.com",
    );
    expect(deriveUsername(jwt({ preferred_username: "b@c.com", unique_name: "c" }))).toBe("b@c.com");
    expect(deriveUsername(jwt({ unique_name: "live.com#c@d.com" }))).toBe("live.com#c@d.com");
    expect(deriveUsername(jwt({ upn: "", preferred_username: "b@c.com" }))).toBe("b@c.com");
  });

  it("returns undefined for invalid tokens and tokens without a name claim", () => {
    expect(deriveUsername("not-a-jwt")).toBeUndefined();
    expect(deriveUsername("a.b.c")).toBeUndefined();
    expect(deriveUsername(`x.${Buffer.from("[1,2]").toString("base64url")}.y`)).toBeUndefined();
    expect(deriveUsername(jwt({ oid: "x" }))).toBeUndefined();
    expect(deriveUsername(undefined as never)).toBeUndefined();
  });

  it("resolveUsername prefers explicit, then env, then token; group names pass through untouched", () => {
    const token = jwt({ upn: "dev@contoso.com" });
    expect(resolveUsername({ explicit: "DB Admins Group", envUser: "x", token })).toBe("DB Admins Group");
    expect(resolveUsername({ envUser: "my-identity", token })).toBe("my-identity");
    expect(resolveUsername({ token })).toBe("dev@contoso.com");
    expect(() => resolveUsername({ token: "junk" })).toThrow(
      expect.objectContaining({ code: "USERNAME_UNRESOLVED" }),
    );
  });

  it("recognises a service principal's app-only token, which names nobody", () => {
    const app = { appid: "11111111-2222-4333-8444-555555555555", oid: "o", idtyp: "app", tid: "t" };
    expect(deriveUsername(jwt(app))).toBeUndefined();
    expect(servicePrincipalAppId(jwt(app))).toBe(app.appid);
    expect(servicePrincipalAppId(jwt({ azp: "v2-client", oid: "o" }))).toBe("v2-client");
    // A managed identity, a user, a delegated token and non-tokens are not service principals.
    expect(servicePrincipalAppId(jwt({ ...app, xms_mirid: MIRID }))).toBeUndefined();
    expect(servicePrincipalAppId(jwt({ ...app, upn: "dev@contoso.com" }))).toBeUndefined();
    expect(servicePrincipalAppId(jwt({ ...app, scp: "user_impersonation" }))).toBeUndefined();
    expect(servicePrincipalAppId("junk")).toBeUndefined();
    expect(servicePrincipalAppId(undefined)).toBeUndefined();
  });

  it("resolveUsername says a service principal's user is its display name, from the config or *_USER", () => {
    const token = jwt({ appid: "11111111-2222-4333-8444-555555555555", idtyp: "app" });
    expect(resolveUsername({ envUser: "Orders API", token })).toBe("Orders API");
    expect(() => resolveUsername({ token, engine: "mysql" })).toThrow(
      expect.objectContaining({
        code: "USERNAME_UNRESOLVED",
        hint: expect.stringContaining(
          "service principal with client ID 11111111-2222-4333-8444-555555555555: it carries no name",
        ),
      }),
    );
    expect(() => resolveUsername({ token, engine: "mysql" })).toThrow(
      expect.objectContaining({ hint: expect.stringContaining("or set AZURE_MYSQL_USER to it.") }),
    );
  });
});

import { inspect } from "node:util";
import { describe, expect, it } from "vitest";
import { reactToServerRejection } from "./react-to-server-rejection.js";
import { CANARY_TOKEN, fakeJwt } from "./testing.js";

function provider() {
  return {
    invalidations: 0,
    invalidate() {
      this.invalidations++;
    },
  };
}

describe("reactToServerRejection", () => {
  it("drops an expired token, names the reason and the fix, and marks the error", () => {
    const holder = provider();
    const error = new Error("The access token has expired. Please acquire a new token and retry.");
    const described = reactToServerRejection(error, {
      engine: "postgresql",
      adapter: "@org/pg-entra",
      provider: holder,
    });
    expect(described?.code).toBe("TOKEN_EXPIRED");
    expect(holder.invalidations).toBe(1);
    expect(error.message).toMatch(/retry\. \[@org\/pg-entra TOKEN_EXPIRED\] The token expired/);
    expect((error as Error & { entraCode?: string }).entraCode).toBe("TOKEN_EXPIRED");
    expect(Object.keys(error)).not.toContain("entraCode");
  });

  it("reads MySQL's error number when the message alone says nothing known", () => {
    const holder = provider();
    const error = new Error("(conn:1, no: 9119) expired");
    const described = reactToServerRejection(error, {
      engine: "mysql",
      adapter: "@org/mysql2-entra",
      serverMessage: "token no longer good",
      serverCode: 9119,
      provider: holder,
    });
    expect(described?.code).toBe("TOKEN_EXPIRED");
    expect(holder.invalidations).toBe(1);
  });

  it("names the principal the token belongs to when the server does not know the user", () => {
    const token = fakeJwt({ upn: "dev@contoso.com" });
    const error = new Error("Access denied for user 'wrong'@'10.0.0.1' (using password: YES)");
    const described = reactToServerRejection(error, {
      engine: "mysql",
      adapter: "@org/sequelize-entra",
      token,
      user: "wrong",
      userSetting: "username",
    });
    expect(described?.code).toBe("PRINCIPAL_UNKNOWN");
    expect(error.message).toContain(
      'The token belongs to "dev@contoso.com"; pass `username: "dev@contoso.com"` or set AZURE_MYSQL_USER.',
    );
    expect(error.message).not.toContain(token);
  });

  it("says where a service principal's user name comes from: its app-only token names nobody", () => {
    const appId = "0b5f7e3c-0000-4000-8000-00000000a991";
    const token = fakeJwt({ appid: appId, oid: "0b5f7e3c-0000-4000-8000-00000000b992", idtyp: "app" });
    const error = new Error('password authentication failed for user "orders-api"');
    reactToServerRejection(error, {
      engine: "postgresql",
      adapter: "@org/pg-entra",
      token,
      user: "orders-api",
    });
    expect(error.message).toContain(`from the service principal with client ID ${appId}: it carries no name`);
    expect(error.message).toContain('pass `user: "<display name>"` or set AZURE_POSTGRESQL_USER to it.');
    expect(error.message).not.toContain(token);
  });

  it("keeps the token's own name out when it is the user that was refused", () => {
    const error = new Error('password authentication failed for user "canary-app"');
    reactToServerRejection(error, {
      engine: "postgresql",
      adapter: "@org/pg-entra",
      token: CANARY_TOKEN,
      user: "canary-app",
    });
    expect(error.message).not.toContain("The token belongs to");
    expect(inspect(error, { showHidden: true })).not.toContain(CANARY_TOKEN);
  });

  it("leaves errors that are not a known authentication failure alone", () => {
    const holder = provider();
    const error = new Error("connect ECONNREFUSED 127.0.0.1:5432");
    expect(
      reactToServerRejection(error, { engine: "postgresql", adapter: "x", provider: holder }),
    ).toBeUndefined();
    expect(error.message).toBe("connect ECONNREFUSED 127.0.0.1:5432");
    expect(holder.invalidations).toBe(0);
  });
});

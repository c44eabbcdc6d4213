import { createTokenProvider } from "@org/entra-core";
import { fakeJwt } from "@org/entra-core/testing";
import { describe, expect, it } from "vitest";
import { entraDatabaseUrl } from "./index.js";

const MINUTE = 60_000;

describe("entraDatabaseUrl: the embedded token has minutes to live", () => {
  it("fetches a fresh token instead of embedding a cached one with less than 4 minutes left", async () => {
    const answers = [
      { token: "token-three-minutes-left", expiresOnTimestamp: Date.now() + 3 * MINUTE },
      { token: "token-fresh", expiresOnTimestamp: Date.now() + 60 * MINUTE },
    ];
    let calls = 0;
    const tokenProvider = createTokenProvider({
      credential: { getToken: async () => answers[calls++] ?? null },
      scope: "https://ossrdbms-aad.database.windows.net/.default",
    });
    // A connection pool may use the 3-minute token (it is outside the must-refresh margin)...
    expect((await tokenProvider.getToken()).token).toBe("token-three-minutes-left");
    // ...but a URL for a migration step gets one that lives long enough.
    const url = await entraDatabaseUrl(
      { provider: "postgresql" },
      {
        tokenProvider,
        env: { AZURE_POSTGRESQL_HOST: "srv.postgres.database.azure.com", AZURE_POSTGRESQL_USER: "app" },
      },
    );
    expect(decodeURIComponent(new URL(url).password)).toBe("token-fresh");
    expect(calls).toBe(2);
    tokenProvider.close();
  });

  it("refuses to embed a token the credential keeps serving with too little left", async () => {
    // A one-hour token issued 57 minutes ago, as a credential's own cache may hand it out.
    const now = Math.floor(Date.now() / 1000);
    const cachedJwt = fakeJwt({ upn: "dev@contoso.com", iat: now - 57 * 60, exp: now + 3 * 60 });
    const dying = { token: cachedJwt, expiresOnTimestamp: (now + 3 * 60) * 1000 };
    const tokenProvider = createTokenProvider({
      credential: { getToken: async () => ({ ...dying }) },
      scope: "https://ossrdbms-aad.database.windows.net/.default",
    });
    await tokenProvider.getToken();
    const failure = entraDatabaseUrl(
      { provider: "mysql" },
      { tokenProvider, env: { AZURE_MYSQL_HOST: "m.mysql.database.azure.com", AZURE_MYSQL_USER: "app" } },
    );
    await expect(failure).rejects.toMatchObject({ code: "CREDENTIAL_FAILED" });
    await expect(failure).rejects.toThrow(/at least 240 s are needed/);
    await expect(failure).rejects.not.toThrow(cachedJwt.split(".")[1]);
    tokenProvider.close();
  });
});

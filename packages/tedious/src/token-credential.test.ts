import { inspect } from "node:util";
import { setFlagsFromString } from "node:v8";
import { runInNewContext } from "node:vm";
import type { AccessToken, GetTokenOptions } from "@azure/core-auth";
import { resetSharedTokenProviders } from "@org/entra-core";
import { CANARY_TOKEN as CANARY, createFakeTokenProvider } from "@org/entra-core/testing";
import { afterEach, describe, expect, it } from "vitest";
import { createEntraTokenCredential } from "./entra-token-credential.js";

const SQL_SCOPE = "https://database.windows.net/.default";

/** A credential that records the scopes it is asked for and mints numbered tokens. */
function countingCredential() {
  const scopes: string[] = [];
  return {
    scopes,
    async getToken(scope: string | string[], _options?: GetTokenOptions): Promise<AccessToken> {
      scopes.push(String(scope));
      return { token: `${CANARY}.${scopes.length}`, expiresOnTimestamp: Date.now() + 3_600_000 };
    },
  };
}

describe("createEntraTokenCredential", () => {
  afterEach(() => resetSharedTokenProviders());

  it("keeps its shared provider (and the warm-started token) alive through garbage collection", async () => {
    setFlagsFromString("--expose-gc");
    const gc = runInNewContext("gc") as () => void;
    const source = countingCredential();
    const credential = createEntraTokenCredential({
      credential: source,
      env: {},
      server: "srv.database.windows.net",
    });
    // The warm start fetched the token; no login has asked for it yet.
    await new Promise((resolve) => setImmediate(resolve));
    expect(source.scopes).toEqual([SQL_SCOPE]);
    for (let i = 0; i < 4; i++) {
      gc();
      await new Promise((resolve) => setImmediate(resolve));
    }
    await credential.getToken(SQL_SCOPE);
    // The registry holds providers weakly: without the credential's own reference the first
    // login would have found a new provider and fetched again.
    expect(source.scopes).toEqual([SQL_SCOPE]);
  });

  it("answers each login with the provider's current token", async () => {
    const provider = createFakeTokenProvider({ tokens: ["token-1", "token-2"] });
    const credential = createEntraTokenCredential({ tokenProvider: provider, env: {} });
    expect(await credential.getToken(SQL_SCOPE)).toEqual({
      token: "token-1",
      expiresOnTimestamp: expect.any(Number),
    });
    expect((await credential.getToken(SQL_SCOPE)).token).toBe("token-2");
    expect(provider.calls).toBe(2);
  });

  it("passes the caller's abortSignal through to the provider", async () => {
    const provider = createFakeTokenProvider();
    const credential = createEntraTokenCredential({ tokenProvider: provider, env: {} });
    const controller = new AbortController();
    await credential.getToken(SQL_SCOPE, { abortSignal: controller.signal });
    expect(provider.requests[0]?.abortSignal).toBe(controller.signal);
    controller.abort();
    await expect(credential.getToken(SQL_SCOPE, { abortSignal: controller.signal })).rejects.toThrow();
  });

  it("shares one credential call among every login and every credential of the process", async () => {
    const source = countingCredential();
    const a = createEntraTokenCredential({ credential: source, env: {} });
    const b = createEntraTokenCredential({ credential: source, env: {} });
    const tokens = await Promise.all([a, b, a, b].map((c) => c.getToken(SQL_SCOPE)));
    expect(new Set(tokens.map((t) => t.token)).size).toBe(1);
    expect(source.scopes).toEqual([SQL_SCOPE]);
  });

  it("keys the shared provider by the scope tedious derives from the server's SPN", async () => {
    const source = countingCredential();
    const credential = createEntraTokenCredential({ credential: source, env: {} });
    // tedious: new URL("/.default", spn) for spn "https://database.windows.net/" and a China server.
    await credential.getToken(new URL("/.default", "https://database.windows.net/").toString());
    await credential.getToken("https://database.windows.net/.default");
    await credential.getToken(new URL("/.default", "https://database.chinacloudapi.cn/").toString());
    expect(source.scopes).toEqual([SQL_SCOPE, "https://database.chinacloudapi.cn/.default"]);
  });

  it("uses options.scope whatever the server asks for", async () => {
    const source = countingCredential();
    const credential = createEntraTokenCredential({
      credential: source,
      scope: "api://custom/.default",
      env: {},
    });
    await credential.getToken("https://management.azure.com/.default");
    expect(source.scopes).toEqual(["api://custom/.default"]);
  });

  it("refuses to fetch a token for a resource that is not Azure SQL", async () => {
    const source = countingCredential();
    const credential = createEntraTokenCredential({ credential: source, env: {} });
    await expect(credential.getToken("https://management.azure.com/.default")).rejects.toMatchObject({
      name: "EntraAuthError",
      code: "INVALID_SETTING",
      message: expect.stringContaining("not an Azure SQL resource"),
    });
    await expect(credential.getToken(["a", "b"])).rejects.toMatchObject({ code: "INVALID_SETTING" });
    // Only the warm start's request for Azure SQL's own scope reached the credential.
    expect(source.scopes.filter((scope) => scope !== "https://database.windows.net/.default")).toEqual([]);
  });

  it("falls back to the server's cloud when no scope is asked for", async () => {
    const source = countingCredential();
    const credential = createEntraTokenCredential({
      credential: source,
      env: { AZURE_SQL_SERVER: "srv.database.usgovcloudapi.net" },
    });
    await credential.getToken([]);
    expect(source.scopes).toEqual(["https://database.usgovcloudapi.net/.default"]);
  });

  it("invalidate() drops the cached token of the providers it used", async () => {
    const provider = createFakeTokenProvider();
    const credential = createEntraTokenCredential({ tokenProvider: provider, env: {} });
    credential.invalidate();
    expect(provider.invalidations).toBe(0);
    await credential.getToken(SQL_SCOPE);
    credential.invalidate();
    expect(provider.invalidations).toBe(1);
  });

  it("holds no token and no environment where inspect could see it", async () => {
    const credential = createEntraTokenCredential({
      tokenProvider: createFakeTokenProvider(),
      env: { AZURE_SQL_SERVER: "srv.database.windows.net", OTHER_SECRET: "do-not-show" },
    });
    await credential.getToken(SQL_SCOPE);
    const shown = inspect(credential, { showHidden: true, depth: 10 });
    expect(shown).not.toContain(CANARY);
    expect(shown).not.toContain("do-not-show");
    expect(JSON.stringify(credential)).toBe("{}");
  });
});

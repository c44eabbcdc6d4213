import { afterEach, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { type IdentityEndpoint, startIdentityEndpoint } from "./identity-endpoint.js";
import { resolveIdentities } from "./resolve-identities.js";
import { createTokenIssuer, type TokenIssuer } from "./token-issuer.js";
import { validateToken } from "./token-validation.js";

const resource = "https://ossrdbms-aad.database.windows.net";
let clockMs = Date.UTC(2026, 10, 26, 12, 0, 0);
const now = () => clockMs;
const identities = resolveIdentities([
  { name: "orders-app", kind: "system" },
  { name: "orders-identity", kind: "user" },
]);
const [system, user] = identities as [(typeof identities)[0], (typeof identities)[0]];

let issuer: TokenIssuer;
let endpoint: IdentityEndpoint;

beforeAll(async () => {
  issuer = await createTokenIssuer({ now });
});

async function start(options: { cacheTokens?: boolean; tokenLifetimeInSeconds?: number } = {}) {
  endpoint = await startIdentityEndpoint({ issuer, identities, now, identityHeader: "s3cret", ...options });
}

beforeEach(async () => {
  clockMs = Date.UTC(2026, 10, 26, 12, 0, 0);
  await start();
});

afterEach(async () => {
  await endpoint.close();
});

function appService(
  query: Record<string, string> = {},
  headers: Record<string, string> = { "X-IDENTITY-HEADER": "s3cret" },
) {
  const params = new URLSearchParams({ "api-version": "2019-08-01", resource, ...query });
  return fetch(`${endpoint.appServiceEndpoint}?${params}`, { headers, signal: AbortSignal.timeout(5000) });
}

function imds(
  path: string,
  query: Record<string, string> = {},
  headers: Record<string, string> = { Metadata: "true" },
) {
  const params = new URLSearchParams({ "api-version": "2018-02-01", resource, ...query });
  return fetch(`${endpoint.url}${path}?${params}`, { headers, signal: AbortSignal.timeout(5000) });
}

type Body = Record<string, string | number | undefined>;

async function bodyOf(response: Response): Promise<Body> {
  return (await response.json()) as Body;
}

function claimsOf(token: unknown): Record<string, unknown> {
  return JSON.parse(Buffer.from(String(token).split(".")[1] ?? "", "base64url").toString());
}

describe("App Service protocol", () => {
  it("issues a token for the system-assigned identity", async () => {
    const response = await appService();
    expect(response.status).toBe(200);
    const body = await bodyOf(response);
    expect(body).toEqual({
      access_token: expect.any(String),
      expires_on: String(clockMs / 1000 + 3600),
      resource,
      token_type: "Bearer",
      client_id: system.clientId,
    });
    const result = validateToken(String(body.access_token), {
      audiences: [resource],
      tenantId: issuer.tenantId,
      jwks: issuer.jwks,
      nowMs: clockMs,
    });
    expect(result).toMatchObject({ ok: true, principalName: "orders-app" });
  });

  it("issues a token for a user-assigned identity chosen by client_id, mi_res_id or object_id", async () => {
    for (const query of <Record<string, string>[]>[
      { client_id: user.clientId },
      { client_id: user.clientId.toUpperCase() },
      { mi_res_id: user.resourceId as string },
      { object_id: user.objectId },
      { principal_id: user.objectId },
    ]) {
      const response = await appService(query);
      expect(response.status).toBe(200);
      const body = await bodyOf(response);
      expect(body.client_id).toBe(user.clientId);
      expect(claimsOf(body.access_token).oid).toBe(user.objectId);
    }
  });

  it("rejects an unknown client_id with 400 like the real service", async () => {
    const response = await appService({ client_id: "00000000-0000-4000-8000-000000000000" });
    expect(response.status).toBe(400);
    expect(await bodyOf(response)).toEqual({
      statusCode: 400,
      message:
        "No User Assigned or Delegated Managed Identity found for specified ClientId/ResourceId/PrincipalId.",
      correlationId: expect.any(String),
    });
  });

  it("rejects a missing X-IDENTITY-HEADER with 400 and a wrong one with 401", async () => {
    const missing = await appService({}, {});
    expect(missing.status).toBe(400);
    expect(await missing.json()).toMatchObject({ statusCode: 400, message: expect.any(String) });
    const wrong = await appService({}, { "X-IDENTITY-HEADER": "nope" });
    expect(wrong.status).toBe(401);
    expect(await wrong.json()).toMatchObject({ statusCode: 401, correlationId: expect.any(String) });
  });

  it("rejects a missing resource with 400", async () => {
    const response = await fetch(`${endpoint.appServiceEndpoint}?api-version=2019-08-01`, {
      headers: { "X-IDENTITY-HEADER": "s3cret" },
    });
    expect(response.status).toBe(400);
    expect((await bodyOf(response)).message).toMatch(/resource/);
  });

  it("mints a fresh token per request by default", async () => {
    const a = await bodyOf(await appService());
    const b = await bodyOf(await appService());
    expect(a.access_token).not.toBe(b.access_token);
  });

  it("returns the same token until half-life when cacheTokens is on", async () => {
    await endpoint.close();
    await start({ cacheTokens: true });
    const a = await bodyOf(await appService());
    clockMs += 1799 * 1000;
    const b = await bodyOf(await appService());
    expect(b.access_token).toBe(a.access_token);
    expect(b.expires_on).toBe(a.expires_on);
    clockMs += 2 * 1000;
    const c = await bodyOf(await appService());
    expect(c.access_token).not.toBe(a.access_token);
    const other = await bodyOf(await appService({ resource: "https://database.windows.net/" }));
    expect(other.access_token).not.toBe(c.access_token);
  });
});

describe("token lifetime", () => {
  it("can be changed at run time for the tokens issued from then on", async () => {
    const before = await bodyOf(await appService());
    expect(Number(claimsOf(before.access_token).exp) - Number(claimsOf(before.access_token).iat)).toBe(3600);
    endpoint.tokenLifetimeInSeconds = 3;
    expect(endpoint.tokenLifetimeInSeconds).toBe(3);
    const after = await bodyOf(await appService());
    expect(Number(claimsOf(after.access_token).exp) - Number(claimsOf(after.access_token).iat)).toBe(3);
    expect(Number(after.expires_on)).toBe(Number(claimsOf(after.access_token).exp));
    expect(() => {
      endpoint.tokenLifetimeInSeconds = 0;
    }).toThrow(RangeError);
  });
});

describe("IMDS protocol", () => {
  for (const path of ["/metadata/identity/oauth2/token", "/metadata/identity/oauth2/token/"]) {
    it(`issues a token at ${path}`, async () => {
      const response = await imds(path);
      expect(response.status).toBe(200);
      const body = await bodyOf(response);
      const nowSeconds = clockMs / 1000;
      expect(body).toEqual({
        access_token: expect.any(String),
        refresh_token: "",
        expires_in: "3600",
        expires_on: String(nowSeconds + 3600),
        not_before: String(nowSeconds),
        resource,
        token_type: "Bearer",
      });
    });
  }

  it("requires the Metadata header", async () => {
    const response = await imds("/metadata/identity/oauth2/token", {}, {});
    expect(response.status).toBe(400);
    expect(await bodyOf(response)).toEqual({
      error: "invalid_request",
      error_description: "Required metadata header not specified",
    });
  });

  it("selects a user-assigned identity by client_id or msi_res_id and rejects unknown ones", async () => {
    const byClient = await bodyOf(
      await imds("/metadata/identity/oauth2/token", { client_id: user.clientId }),
    );
    expect(claimsOf(byClient.access_token).appid).toBe(user.clientId);
    const byResource = await bodyOf(
      await imds("/metadata/identity/oauth2/token", { msi_res_id: user.resourceId as string }),
    );
    expect(claimsOf(byResource.access_token).oid).toBe(user.objectId);
    const unknown = await imds("/metadata/identity/oauth2/token", { client_id: "nobody" });
    expect(unknown.status).toBe(400);
    expect(await unknown.json()).toMatchObject({ error: "invalid_request" });
  });

  it("rejects a missing resource with 400", async () => {
    const response = await fetch(`${endpoint.url}/metadata/identity/oauth2/token?api-version=2018-02-01`, {
      headers: { Metadata: "true" },
    });
    expect(response.status).toBe(400);
    expect((await bodyOf(response)).error_description).toMatch(/resource/);
  });
});

describe("fault injection", () => {
  it("down destroys the socket without a response", async () => {
    endpoint.setFault({ mode: "down" });
    await expect(appService()).rejects.toThrow();
    await expect(imds("/metadata/identity/oauth2/token")).rejects.toThrow();
  });

  it("slow answers normally after the delay", async () => {
    endpoint.setFault({ mode: "slow", delayInMs: 150 });
    const started = performance.now();
    const response = await appService();
    expect(response.status).toBe(200);
    expect(performance.now() - started).toBeGreaterThanOrEqual(140);
  });

  it("status answers with the code and a real-looking body, with Retry-After for 429", async () => {
    endpoint.setFault({ mode: "status", status: 429, retryAfterInSeconds: 7 });
    const throttled = await appService();
    expect(throttled.status).toBe(429);
    expect(throttled.headers.get("retry-after")).toBe("7");
    expect(await throttled.json()).toMatchObject({ statusCode: 429, message: expect.any(String) });

    endpoint.setFault({ mode: "status", status: 500 });
    const failed = await imds("/metadata/identity/oauth2/token");
    expect(failed.status).toBe(500);
    expect(await failed.json()).toMatchObject({
      error: "server_error",
      error_description: expect.any(String),
    });
  });

  it("malformed answers 200 with a non-JSON body or JSON without access_token", async () => {
    endpoint.setFault({ mode: "malformed" });
    const html = await appService();
    expect(html.status).toBe(200);
    await expect(html.clone().json()).rejects.toThrow();
    endpoint.setFault({ mode: "malformed", variant: "missing-token" });
    const json = await appService();
    expect(json.status).toBe(200);
    const body = await bodyOf(json);
    expect(body.access_token).toBeUndefined();
    expect(body.expires_on).toEqual(expect.any(String));
  });

  it("timeout never answers, and close() releases the socket", async () => {
    endpoint.setFault({ mode: "timeout" });
    const pending = fetch(`${endpoint.appServiceEndpoint}?api-version=2019-08-01&resource=${resource}`, {
      headers: { "X-IDENTITY-HEADER": "s3cret" },
    });
    const raced = await Promise.race([
      pending.then(() => "answered").catch(() => "failed"),
      new Promise((resolve) => setTimeout(() => resolve("waiting"), 150)),
    ]);
    expect(raced).toBe("waiting");
    await endpoint.close();
    await expect(pending).rejects.toThrow();
  });

  it("times limits the fault to that many requests", async () => {
    endpoint.setFault({ mode: "status", status: 503, times: 2 });
    expect((await appService()).status).toBe(503);
    expect((await appService()).status).toBe(503);
    expect((await appService()).status).toBe(200);
  });

  it("reset reverts to ok", async () => {
    endpoint.setFault({ mode: "status", status: 500 });
    endpoint.resetFault();
    expect((await appService()).status).toBe(200);
  });
});

describe("counters", () => {
  it("counts requests in total, per protocol, per identity and by outcome", async () => {
    await appService();
    await appService({ client_id: user.clientId });
    await appService({}, {});
    await imds("/metadata/identity/oauth2/token/");
    endpoint.setFault({ mode: "status", status: 500, times: 1 });
    await appService();
    endpoint.setFault({ mode: "down", times: 1 });
    await appService().catch(() => undefined);
    endpoint.setFault({ mode: "malformed", times: 1 });
    await (await appService()).text();

    expect(endpoint.counters).toEqual({
      tokenRequests: 7,
      tokenRequestsByProtocol: { appService: 6, imds: 1, entra: 0 },
      tokenRequestsByIdentity: { "orders-app": 2, "orders-identity": 1 },
      tokenRequestsByOutcome: { issued: 3, rejected: 1, down: 1, timeout: 0, status: 1, malformed: 1 },
    });
    endpoint.resetCounters();
    expect(endpoint.counters.tokenRequests).toBe(0);
  });
});

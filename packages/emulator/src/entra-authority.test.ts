import { constants, createHash, createPrivateKey, sign, X509Certificate } from "node:crypto";
import { request as httpRequest } from "node:http";
import { request as httpsRequest } from "node:https";
import { connect as tlsConnect } from "node:tls";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { type Emulator, startEmulator } from "./start-emulator.js";
import { type ClientCertificate, createClientCertificate } from "./tls-authority.js";

const resource = "https://ossrdbms-aad.database.windows.net";
const JWT_BEARER = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer";

interface Reply {
  readonly status: number;
  readonly headers: Record<string, string | string[] | undefined>;
  readonly text: string;
  readonly json: Record<string, unknown>;
}

let emulator: Emulator;
let certificate: ClientCertificate;

beforeAll(async () => {
  certificate = await createClientCertificate({ subject: "orders-api" });
  emulator = await startEmulator({
    postgres: false,
    identities: [
      {
        name: "orders-api",
        kind: "servicePrincipal",
        clientSecret: "s3cret~value",
        certificates: [certificate.cert],
      },
      { name: "emulated-app", kind: "system" },
    ],
  });
});

afterAll(async () => {
  await emulator?.close();
});

beforeEach(() => {
  emulator.faults.identity.reset();
  emulator.resetCounters();
});

function toReply(status: number, headers: Reply["headers"], text: string): Reply {
  let json: Record<string, unknown> = {};
  try {
    json = JSON.parse(text) as Record<string, unknown>;
  } catch {
    // not JSON
  }
  return { status, headers, text, json };
}

function call(
  path: string,
  options: { method?: string; form?: Record<string, string> } = {},
): Promise<Reply> {
  const body = options.form ? new URLSearchParams(options.form).toString() : undefined;
  return new Promise((resolve, reject) => {
    const req = httpsRequest(
      `${emulator.authorityHost}${path}`,
      {
        method: options.method ?? (body ? "POST" : "GET"),
        ca: emulator.ca,
        headers: body ? { "Content-Type": "application/x-www-form-urlencoded" } : {},
        timeout: 5000,
      },
      (response) => {
        let text = "";
        response.setEncoding("utf8");
        response.on("data", (chunk) => {
          text += chunk;
        });
        response.on("end", () => resolve(toReply(response.statusCode ?? 0, response.headers, text)));
      },
    );
    req.on("error", reject);
    req.on("timeout", () => req.destroy(new Error("timeout")));
    req.end(body);
  });
}

const sp = () => emulator.identities[0] as NonNullable<Emulator["identities"][0]>;
const tokenPath = () => `/${emulator.tenantId}/oauth2/v2.0/token`;
const grant = (extra: Record<string, string>) => ({
  grant_type: "client_credentials",
  client_id: sp().clientId,
  scope: `${resource}/.default`,
  ...extra,
});

function assertion(
  options: {
    alg?: "RS256" | "PS256";
    thumbprint?: "x5t" | "x5t#S256";
    claims?: Record<string, unknown>;
    key?: string;
    cert?: string;
  } = {},
): string {
  const alg = options.alg ?? "PS256";
  const raw = new X509Certificate(options.cert ?? certificate.cert).raw;
  const thumbprint = options.thumbprint ?? "x5t#S256";
  const hash = createHash(thumbprint === "x5t" ? "sha1" : "sha256")
    .update(raw)
    .digest("base64url");
  const nowSeconds = Math.floor(Date.now() / 1000);
  const segment = (value: unknown) => Buffer.from(JSON.stringify(value)).toString("base64url");
  const input = `${segment({ alg, typ: "JWT", [thumbprint]: hash })}.${segment({
    aud: `${emulator.authorityHost}${tokenPath()}`,
    iss: sp().clientId,
    sub: sp().clientId,
    jti: "8d8b5a52-0000-4000-8000-000000000001",
    nbf: nowSeconds,
    exp: nowSeconds + 600,
    ...options.claims,
  })}`;
  const key = createPrivateKey(options.key ?? certificate.key);
  const signature =
    alg === "RS256"
      ? sign("RSA-SHA256", Buffer.from(input), key)
      : sign("sha256", Buffer.from(input), {
          key,
          padding: constants.RSA_PKCS1_PSS_PADDING,
          saltLength: constants.RSA_PSS_SALTLEN_DIGEST,
        });
  return `${input}.${signature.toString("base64url")}`;
}

const withAssertion = (jwt: string) => grant({ client_assertion_type: JWT_BEARER, client_assertion: jwt });
const aadsts = (reply: Reply) => (reply.json.error_codes as number[] | undefined)?.[0];

describe("discovery documents", () => {
  it("serves the tenant's OpenID configuration and keys, and refuses other tenants", async () => {
    const config = await call(`/${emulator.tenantId}/v2.0/.well-known/openid-configuration`);
    expect(config.status).toBe(200);
    expect(config.json).toMatchObject({
      issuer: `${emulator.authorityHost}/${emulator.tenantId}/v2.0`,
      token_endpoint: `${emulator.authorityHost}${tokenPath()}`,
      authorization_endpoint: `${emulator.authorityHost}/${emulator.tenantId}/oauth2/v2.0/authorize`,
      jwks_uri: `${emulator.authorityHost}/${emulator.tenantId}/discovery/v2.0/keys`,
    });
    expect((await call(`/${emulator.tenantId}/discovery/v2.0/keys`)).json).toEqual(emulator.jwks);
    const other = await call("/00000000-0000-4000-8000-000000000001/v2.0/.well-known/openid-configuration");
    expect(other.status).toBe(400);
    expect(other.json).toMatchObject({ error: "invalid_tenant", error_codes: [90002] });
    expect((await call("/nowhere")).status).toBe(404);
  });

  it("serves its OIDC issuer's discovery document and keys", async () => {
    const config = await call("/oidc/.well-known/openid-configuration");
    expect(config.json).toMatchObject({
      issuer: emulator.oidcIssuer,
      jwks_uri: `${emulator.oidcIssuer}/openid/v1/jwks`,
    });
    const jwks = await call("/oidc/openid/v1/jwks");
    const header = JSON.parse(
      Buffer.from(emulator.mintFederatedToken().split(".")[0] as string, "base64url").toString(),
    );
    expect(jwks.json).toMatchObject({ keys: [{ kty: "RSA", alg: "RS256", kid: header.kid }] });
  });
});

describe("the instance-discovery proxy", () => {
  function connectThrough(target: string): Promise<{ status: number; socket: import("node:net").Socket }> {
    const proxy = new URL(emulator.discoveryProxy as string);
    return new Promise((resolve, reject) => {
      const req = httpRequest({ host: proxy.hostname, port: proxy.port, method: "CONNECT", path: target });
      req.on("connect", (response, socket) => resolve({ status: response.statusCode ?? 0, socket }));
      req.on("error", reject);
      req.end();
    });
  }

  async function discover(authorizationEndpoint: string): Promise<Reply> {
    const { status, socket } = await connectThrough("login.microsoftonline.com:443");
    expect(status).toBe(200);
    const secure = tlsConnect({ socket, servername: "login.microsoftonline.com", ca: emulator.ca });
    const query = new URLSearchParams({
      "api-version": "1.1",
      authorization_endpoint: authorizationEndpoint,
    });
    return new Promise((resolve, reject) => {
      const req = httpsRequest(
        {
          host: "login.microsoftonline.com",
          path: `/common/discovery/instance?${query}`,
          createConnection: () => secure,
        },
        (response) => {
          let text = "";
          response.on("data", (chunk) => {
            text += chunk;
          });
          response.on("end", () => resolve(toReply(response.statusCode ?? 0, response.headers, text)));
        },
      );
      req.on("error", reject);
      req.end();
    });
  }

  it("answers MSAL's instance discovery for the emulator's authority, under a certificate from its CA", async () => {
    const host = new URL(emulator.authorityHost).host;
    const reply = await discover(`${emulator.authorityHost}/${emulator.tenantId}/oauth2/v2.0/authorize`);
    expect(reply.status).toBe(200);
    expect(reply.json).toEqual({
      tenant_discovery_endpoint: `${emulator.authorityHost}/${emulator.tenantId}/v2.0/.well-known/openid-configuration`,
      "api-version": "1.1",
      metadata: [{ preferred_network: host, preferred_cache: host, aliases: [host] }],
    });
    const unknown = await discover("https://login.contoso.test/tenant/oauth2/v2.0/authorize");
    expect(unknown.status).toBe(400);
    expect(unknown.json).toMatchObject({ error: "invalid_instance", error_codes: [50049] });
  });

  it("tunnels to the authority and refuses every other target", async () => {
    const port = new URL(emulator.authorityHost).port;
    const tunnel = await connectThrough(`localhost:${port}`);
    expect(tunnel.status).toBe(200);
    tunnel.socket.destroy();
    const elsewhere = await connectThrough("example.com:443");
    expect(elsewhere.status).toBe(403);
    elsewhere.socket.destroy();
  });
});

describe("the token endpoint", () => {
  it("issues an app token for the client secret, counted as an entra token request", async () => {
    emulator.tokenLifetimeInSeconds = 900;
    try {
      const reply = await call(tokenPath(), { form: grant({ client_secret: "s3cret~value" }) });
      expect(reply.status).toBe(200);
      expect(reply.json).toEqual({
        token_type: "Bearer",
        expires_in: expect.any(Number),
        ext_expires_in: expect.any(Number),
        access_token: expect.any(String),
      });
      expect(Math.abs((reply.json.expires_in as number) - 900)).toBeLessThanOrEqual(1);
      expect(reply.headers["cache-control"]).toContain("no-store");
    } finally {
      emulator.tokenLifetimeInSeconds = 3600;
    }
    expect(emulator.counters).toMatchObject({
      tokenRequests: 1,
      tokenRequestsByProtocol: { entra: 1 },
      tokenRequestsByIdentity: { "orders-api": 1 },
      tokenRequestsByOutcome: { issued: 1 },
    });
  });

  it("accepts certificate assertions signed with the registered key (PS256 / x5t#S256 and RS256 / x5t)", async () => {
    for (const jwt of [assertion(), assertion({ alg: "RS256", thumbprint: "x5t" })]) {
      const reply = await call(tokenPath(), { form: withAssertion(jwt) });
      expect(reply.status, reply.text).toBe(200);
      const claims = JSON.parse(
        Buffer.from(String(reply.json.access_token).split(".")[1] as string, "base64url").toString(),
      );
      expect(claims).toMatchObject({ appid: sp().clientId, appidacr: "2", idtyp: "app", oid: sp().objectId });
    }
  });

  it("refuses bad certificate assertions with Entra's AADSTS codes", async () => {
    const other = await createClientCertificate({ subject: "impostor" });
    const nowSeconds = Math.floor(Date.now() / 1000);
    const cases: Array<[number, string]> = [
      [700027, assertion({ key: other.key })], // signed with another key
      [700027, assertion({ key: other.key, cert: other.cert })], // a certificate nobody registered
      [700023, assertion({ claims: { aud: "https://login.microsoftonline.com/x/oauth2/v2.0/token" } })],
      [700021, assertion({ claims: { iss: "00000000-0000-4000-8000-0000000000cc" } })],
      [700024, assertion({ claims: { nbf: nowSeconds - 3600, exp: nowSeconds - 900 } })],
      [50027, "not.a-jwt"],
    ];
    for (const [code, jwt] of cases) {
      const reply = await call(tokenPath(), { form: withAssertion(jwt) });
      expect([reply.status, reply.json.error, aadsts(reply)]).toEqual([401, "invalid_client", code]);
      expect(String(reply.json.error_description)).toMatch(
        new RegExp(`^AADSTS${code}: .+ Trace ID: .+ Correlation ID: .+ Timestamp: `),
      );
    }
    expect(emulator.counters.tokenRequestsByOutcome).toMatchObject({ issued: 0, rejected: cases.length });
  });

  it("refuses malformed requests as Entra does", async () => {
    const cases: Array<[number, string, number, Record<string, string>, string?]> = [
      [401, "invalid_client", 7000215, grant({ client_secret: "wrong" })],
      [401, "invalid_client", 7000218, grant({})],
      [
        400,
        "invalid_request",
        7000219,
        grant({
          client_secret: "s3cret~value",
          client_assertion: assertion(),
          client_assertion_type: JWT_BEARER,
        }),
      ],
      [400, "invalid_request", 900144, grant({ client_assertion: assertion() })],
      [
        400,
        "unsupported_grant_type",
        70003,
        grant({ grant_type: "password", client_secret: "s3cret~value" }),
      ],
      [400, "invalid_scope", 1002012, grant({ scope: resource, client_secret: "s3cret~value" })],
      [400, "invalid_request", 900144, { grant_type: "client_credentials", client_id: sp().clientId }],
      [
        400,
        "unauthorized_client",
        700016,
        grant({ client_id: emulator.identities[1]?.clientId as string, client_secret: "x" }),
      ],
      [
        400,
        "invalid_tenant",
        90002,
        grant({ client_secret: "s3cret~value" }),
        "/contoso.onmicrosoft.com/oauth2/v2.0/token",
      ],
    ];
    for (const [status, error, code, form, path] of cases) {
      const reply = await call(path ?? tokenPath(), { form });
      expect([reply.status, reply.json.error, aadsts(reply)], JSON.stringify(form)).toEqual([
        status,
        error,
        code,
      ]);
    }
    expect((await call(tokenPath())).status).toBe(405);
  });

  it("the managed-identity endpoint does not serve a service principal", async () => {
    const query = new URLSearchParams({ "api-version": "2019-08-01", resource, client_id: sp().clientId });
    const response = await fetch(`${emulator.identityEndpoint}?${query}`, {
      headers: { "X-IDENTITY-HEADER": emulator.identityHeader },
    });
    expect(response.status).toBe(400);
  });
});

describe("faults and counters shared with the managed-identity endpoint", () => {
  const secretGrant = () => grant({ client_secret: "s3cret~value" });

  it("status faults answer Entra-shaped errors with Retry-After, then `times` runs out", async () => {
    emulator.faults.identity.set({ mode: "status", status: 503, retryAfterInSeconds: 7, times: 1 });
    const failed = await call(tokenPath(), { form: secretGrant() });
    expect(failed.status).toBe(503);
    expect(failed.headers["retry-after"]).toBe("7");
    expect(failed.json).toMatchObject({ error: "temporarily_unavailable" });
    expect((await call(tokenPath(), { form: secretGrant() })).status).toBe(200);
    expect(emulator.counters.tokenRequestsByOutcome).toMatchObject({ status: 1, issued: 1 });
  });

  it("down, malformed and slow apply to the token endpoint; discovery documents are not faulted", async () => {
    emulator.faults.identity.set({ mode: "down", times: 1 });
    await expect(call(tokenPath(), { form: secretGrant() })).rejects.toThrow();
    emulator.faults.identity.set({ mode: "malformed", times: 1 });
    expect((await call(tokenPath(), { form: secretGrant() })).text).toContain("502 Bad Gateway");
    emulator.faults.identity.set({ mode: "malformed", variant: "missing-token", times: 1 });
    expect((await call(tokenPath(), { form: secretGrant() })).json).not.toHaveProperty("access_token");
    emulator.faults.identity.set({ mode: "slow", delayInMs: 200 });
    expect((await call(`/${emulator.tenantId}/v2.0/.well-known/openid-configuration`)).status).toBe(200);
    const started = Date.now();
    expect((await call(tokenPath(), { form: secretGrant() })).status).toBe(200);
    expect(Date.now() - started).toBeGreaterThanOrEqual(190);
    expect(emulator.counters).toMatchObject({
      tokenRequests: 4,
      tokenRequestsByProtocol: { appService: 0, imds: 0, entra: 4 },
      tokenRequestsByOutcome: { down: 1, malformed: 2, issued: 1 },
    });
  });
});

import {
  constants,
  createHash,
  type KeyObject,
  randomUUID,
  timingSafeEqual,
  verify,
  X509Certificate,
} from "node:crypto";
import type { IncomingMessage, ServerResponse } from "node:http";
import { createServer } from "node:https";
import type { FederatedTokenIssuer } from "./federated-token-issuer.js";
import type { EmulatedIdentity } from "./resolve-identities.js";
import { ServerLifecycle } from "./server-lifecycle.js";
import type { TokenIssuer } from "./token-issuer.js";
import { statusMessages, type TokenRequestControl } from "./token-request-control.js";
import { parseJwt } from "./token-validation.js";

/** Options of {@link startEntraAuthority}. */
export interface EntraAuthorityOptions {
  /** Interface to listen on. */
  readonly host: string;
  /** Port to listen on. Defaults to 0 (ephemeral). */
  readonly port?: number;
  /** PEM key and certificate chain (MSAL requires an https authority). */
  readonly tls: { readonly key: string; readonly cert: string };
  /** The one tenant it serves. */
  readonly tenantId: string;
  /** Signs the access tokens (the same issuer as the managed-identity endpoint's). */
  readonly issuer: TokenIssuer;
  /** The identities; the service principals among them are the apps that can sign in. */
  readonly identities: readonly EmulatedIdentity[];
  /** The OIDC issuer whose tokens federated credentials accept, served under `/oidc`. */
  readonly federated: (url: string) => FederatedTokenIssuer;
  /** Fault and counters shared with the managed-identity endpoint. */
  readonly control: TokenRequestControl;
  /** Lifetime of issued tokens in seconds, read per request. */
  readonly tokenLifetimeInSeconds: () => number;
  /** Clock in epoch milliseconds. */
  readonly now: () => number;
}

/** A running Entra authority (see {@link startEntraAuthority}). */
export interface EntraAuthority {
  /** `https://localhost:<port>`: the `AZURE_AUTHORITY_HOST`. */
  readonly url: string;
  /** The port it listens on. */
  readonly port: number;
  /** The emulator's OIDC issuer (`{url}/oidc`) and its signer. */
  readonly federated: FederatedTokenIssuer;
  /** The token endpoint of the tenant, the audience of certificate assertions. */
  readonly tokenEndpoint: string;
  /** Registers a PEM certificate on a service principal (by name): assertions signed by its key are accepted. */
  registerCertificate(identityName: string, certificatePem: string): void;
  /** Answers an instance-discovery request (`/common/discovery/instance`), as login.microsoftonline.com does. */
  answerInstanceDiscovery(request: IncomingMessage, response: ServerResponse): void;
  /** Stops listening and destroys open sockets. Idempotent. */
  close(): Promise<void>;
}

/**
 * Clock skew Entra tolerates on client assertions (`nbf`/`exp`), in seconds.
 * An assumption: Entra documents none; 5 minutes is the usual default of its token validation.
 */
const ASSERTION_SKEW_SECONDS = 300;
const JWT_BEARER = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer";
const MAX_BODY_BYTES = 1024 * 1024;

interface RegisteredCertificate {
  readonly sha1: string;
  readonly sha256: string;
  readonly publicKey: KeyObject;
  readonly validFrom: Date;
  readonly validTo: Date;
}

/** An OAuth error as Entra sends it: HTTP status, `error`, AADSTS number and message. */
interface EntraError {
  readonly status: number;
  readonly error: string;
  readonly code: number;
  readonly message: string;
}

const fail = (status: number, error: string, code: number, message: string): EntraError => ({
  status,
  error,
  code,
  message,
});
const invalidClient = (code: number, message: string) => fail(401, "invalid_client", code, message);
const CERTIFICATE_DOCS =
  "Review the documentation at https://learn.microsoft.com/entra/identity-platform/certificate-credentials .";
const FEDERATION_DOCS =
  "Please check your federated identity credential Subject, Audience and Issuer against the presented assertion. https://learn.microsoft.com/entra/workload-id/workload-identity-federation";

/**
 * Starts the emulator's Entra ID authority over TLS on `localhost`: what `AZURE_AUTHORITY_HOST` points
 * `@azure/identity` (MSAL) at for `ClientSecretCredential`, `ClientCertificateCredential`,
 * `WorkloadIdentityCredential` and `DefaultAzureCredential`'s environment and workload-identity links.
 * It serves the documents MSAL reads (`/{tenant}/v2.0/.well-known/openid-configuration`, the JWKS, and
 * instance discovery), the client-credentials grant at `/{tenant}/oauth2/v2.0/token` with client
 * secrets, certificate assertions and federated assertions from its own OIDC issuer (`/oidc`), and
 * refuses bad clients with Entra's errors (`invalid_client`, AADSTS codes).
 *
 * @example
 * const authority = await startEntraAuthority({ host, tls, tenantId, issuer, identities, federated, control, tokenLifetimeInSeconds: () => 3600, now: Date.now });
 * process.env.AZURE_AUTHORITY_HOST = authority.url;
 */
export async function startEntraAuthority(options: EntraAuthorityOptions): Promise<EntraAuthority> {
  const { tenantId, control, now } = options;
  const lifecycle = new ServerLifecycle();
  const certificates = new Map<string, RegisteredCertificate[]>();
  const servicePrincipals = options.identities.filter((identity) => identity.kind === "servicePrincipal");
  let url = "";
  let federated: FederatedTokenIssuer | undefined;

  const registerCertificate = (identityName: string, pem: string) => {
    const certificate = new X509Certificate(pem);
    const list = certificates.get(identityName) ?? [];
    list.push({
      sha1: createHash("sha1").update(certificate.raw).digest("base64url"),
      sha256: createHash("sha256").update(certificate.raw).digest("base64url"),
      publicKey: certificate.publicKey,
      validFrom: new Date(certificate.validFrom),
      validTo: new Date(certificate.validTo),
    });
    certificates.set(identityName, list);
  };
  for (const principal of servicePrincipals) {
    for (const pem of principal.certificates ?? []) registerCertificate(principal.name, pem);
  }

  const isOurTenant = (tenant: string) => tenant.toLowerCase() === tenantId.toLowerCase();
  const tenantEndpoints = (tenant: string) => ({
    token_endpoint: `${url}/${tenant}/oauth2/v2.0/token`,
    token_endpoint_auth_methods_supported: ["client_secret_post", "private_key_jwt", "client_secret_basic"],
    jwks_uri: `${url}/${tenant}/discovery/v2.0/keys`,
    response_modes_supported: ["query", "fragment", "form_post"],
    subject_types_supported: ["pairwise"],
    id_token_signing_alg_values_supported: ["RS256"],
    response_types_supported: ["code", "id_token", "code id_token", "id_token token"],
    scopes_supported: ["openid", "profile", "email", "offline_access"],
    issuer: `${url}/${tenant}/v2.0`,
    request_uri_parameter_supported: false,
    authorization_endpoint: `${url}/${tenant}/oauth2/v2.0/authorize`,
    device_authorization_endpoint: `${url}/${tenant}/oauth2/v2.0/devicecode`,
    http_logout_supported: true,
    frontchannel_logout_supported: true,
    end_session_endpoint: `${url}/${tenant}/oauth2/v2.0/logout`,
    claims_supported: ["sub", "iss", "aud", "exp", "iat", "auth_time", "acr", "nonce", "tid", "ver", "oid"],
    tenant_region_scope: "EU",
    cloud_instance_name: "microsoftonline.com",
    cloud_graph_host_name: "graph.windows.net",
    msgraph_host: "graph.microsoft.com",
  });

  function answerInstanceDiscovery(request: IncomingMessage, response: ServerResponse): void {
    const query = new URL(request.url ?? "/", "https://emulator.invalid").searchParams;
    const endpoint = query.get("authorization_endpoint");
    let asked: URL | undefined;
    try {
      asked = endpoint ? new URL(endpoint) : undefined;
    } catch {
      asked = undefined;
    }
    const ours = new URL(url);
    if (asked?.protocol !== "https:" || asked.port !== ours.port || !isLocalName(asked.hostname)) {
      sendError(response, request, fail(400, "invalid_instance", 50049, "Unknown or invalid instance."));
      return;
    }
    const host = asked.host.toLowerCase();
    const tenant = asked.pathname.split("/").filter(Boolean)[0] ?? "common";
    sendJson(response, 200, {
      tenant_discovery_endpoint: `https://${host}/${tenant}/v2.0/.well-known/openid-configuration`,
      "api-version": "1.1",
      metadata: [{ preferred_network: host, preferred_cache: host, aliases: [host] }],
    });
  }

  function route(request: IncomingMessage, response: ServerResponse): void {
    const path = new URL(request.url ?? "/", "https://emulator.invalid").pathname;
    const [tenant = "", ...rest] = path.split("/").filter(Boolean);
    const tail = rest.join("/");
    const get = request.method === "GET";
    const known = isOurTenant(tenant) || ["common", "organizations"].includes(tenant.toLowerCase());
    if (get && tenant === "oidc" && tail === ".well-known/openid-configuration") {
      sendJson(response, 200, federatedIssuer().discovery);
    } else if (get && tenant === "oidc" && tail === "openid/v1/jwks") {
      sendJson(response, 200, federatedIssuer().jwks);
    } else if (get && tail === "discovery/instance") {
      answerInstanceDiscovery(request, response);
    } else if (get && (tail === "discovery/v2.0/keys" || tail === "discovery/keys")) {
      if (known) sendJson(response, 200, options.issuer.jwks);
      else sendError(response, request, tenantNotFound(tenant));
    } else if (get && tail === "v2.0/.well-known/openid-configuration") {
      if (known) sendJson(response, 200, tenantEndpoints(isOurTenant(tenant) ? tenantId : "{tenantid}"));
      else sendError(response, request, tenantNotFound(tenant));
    } else if (tail === "oauth2/v2.0/token" && request.method === "POST") {
      tokenRequest(tenant, request, response);
    } else if (tail === "oauth2/v2.0/token") {
      sendError(
        response,
        request,
        fail(405, "invalid_request", 900561, "The endpoint only accepts POST requests."),
      );
    } else {
      sendJson(response, 404, { error: "not_found", error_description: `No route for ${path}` });
    }
  }

  function federatedIssuer(): FederatedTokenIssuer {
    federated ??= options.federated(`${url}/oidc`);
    return federated;
  }

  function tokenRequest(tenant: string, request: IncomingMessage, response: ServerResponse): void {
    const active = control.takeFault();
    switch (active.mode) {
      case "down":
        control.count("entra", "down");
        request.socket.destroy();
        return;
      case "timeout":
        control.count("entra", "timeout");
        return;
      case "status": {
        control.count("entra", "status");
        const headers: Record<string, string> = {};
        if (active.status === 429 || active.status === 503) {
          headers["Retry-After"] = String(active.retryAfterInSeconds ?? 1);
        }
        const error = active.status >= 500 ? "temporarily_unavailable" : "invalid_request";
        const message = statusMessages[active.status] ?? `The request failed with status ${active.status}.`;
        sendError(response, request, fail(active.status, error, 90033, message), headers);
        return;
      }
      case "malformed":
        control.count("entra", "malformed");
        if (active.variant === "missing-token") {
          sendJson(response, 200, { token_type: "Bearer", expires_in: options.tokenLifetimeInSeconds() });
        } else {
          response.writeHead(200, { "Content-Type": "text/html" });
          response.end("<html><body><h1>502 Bad Gateway</h1></body></html>");
        }
        return;
      case "slow":
        lifecycle.later(active.delayInMs, () => {
          if (!response.destroyed) answerTokenRequest(tenant, request, response);
        });
        return;
      default:
        answerTokenRequest(tenant, request, response);
    }
  }

  function answerTokenRequest(tenant: string, request: IncomingMessage, response: ServerResponse): void {
    readForm(request).then(
      (form) => {
        const decided = decide(tenant, form);
        if ("status" in decided) {
          control.count("entra", "rejected", decided.identity?.name);
          sendError(response, request, decided);
          return;
        }
        const { identity, resource, acr } = decided;
        // MSAL dates the token `Math.round(request time in s) + expires_in` (msal-common
        // TimeUtils.nowSeconds, ResponseHandler), up to a second later than the emulator's whole-second
        // `iat`. So the token is valid `lifetime` seconds from the next whole second: `expires_in` is
        // the lifetime and MSAL's expiry is never after `exp`, which matters for seconds-long tokens at
        // a gateway without clock skew.
        const lifetime = options.tokenLifetimeInSeconds();
        const nowMs = now();
        const issuedAt = Math.floor(nowMs / 1000);
        const minted = options.issuer.mintToken({
          identity,
          audience: resource,
          issuedAt,
          lifetimeInSeconds: lifetime + (Math.ceil(nowMs / 1000) - issuedAt),
          claims: { appidacr: acr },
        });
        control.count("entra", "issued", identity.name);
        const expiresIn = lifetime;
        sendJson(
          response,
          200,
          {
            token_type: "Bearer",
            expires_in: expiresIn,
            ext_expires_in: expiresIn,
            access_token: minted.token,
          },
          { "Cache-Control": "no-store, no-cache", Pragma: "no-cache" },
        );
      },
      () => {
        control.count("entra", "rejected");
        sendError(
          response,
          request,
          fail(400, "invalid_request", 900144, "The request body could not be read."),
        );
      },
    );
  }

  type Decision =
    | { readonly identity: EmulatedIdentity; readonly resource: string; readonly acr: "1" | "2" }
    | (EntraError & { readonly identity?: EmulatedIdentity });

  function decide(tenant: string, form: URLSearchParams): Decision {
    if (!isOurTenant(tenant)) return tenantNotFound(tenant);
    const grantType = form.get("grant_type");
    if (!grantType) return missingParameter("grant_type");
    if (grantType !== "client_credentials") {
      return fail(
        400,
        "unsupported_grant_type",
        70003,
        `The app requested an unsupported grant type '${grantType}'.`,
      );
    }
    const clientId = form.get("client_id");
    if (!clientId) return missingParameter("client_id");
    const scope = form.get("scope");
    if (!scope) return missingParameter("scope");
    const scopes = scope.split(" ").filter(Boolean);
    const resourceScope = scopes.find((value) => value.endsWith("/.default"));
    if (!resourceScope || scopes.length !== 1) {
      return fail(
        400,
        "invalid_scope",
        1002012,
        `The provided value for scope ${scope} is not valid. Client credential flows must have a scope value with /.default suffixed to the resource identifier (application ID URI).`,
      );
    }
    const identity = servicePrincipals.find(
      (candidate) => candidate.clientId.toLowerCase() === clientId.toLowerCase(),
    );
    if (!identity) {
      return fail(
        400,
        "unauthorized_client",
        700016,
        `Application with identifier '${clientId}' was not found in the directory '${tenantId}'. This can happen if the application has not been installed by the administrator of the tenant or consented to by any user in the tenant. You may have sent your authentication request to the wrong tenant.`,
      );
    }
    const resource = resourceScope.slice(0, -"/.default".length);
    const refused = authenticateClient(identity, tenant, form);
    if (refused) return { ...refused, identity };
    const acr = form.get("client_secret") !== null ? "1" : "2";
    return { identity, resource, acr };
  }

  /** Checks the client's credential; undefined when it is good. */
  function authenticateClient(
    identity: EmulatedIdentity,
    tenant: string,
    form: URLSearchParams,
  ): EntraError | undefined {
    const secret = form.get("client_secret");
    const assertion = form.get("client_assertion");
    if (secret !== null && assertion !== null) {
      return fail(
        400,
        "invalid_request",
        7000219,
        "Only one of 'client_assertion' and 'client_secret' may be sent.",
      );
    }
    if (secret !== null) {
      return sameSecret(secret, identity.clientSecret ?? "")
        ? undefined
        : invalidClient(
            7000215,
            `Invalid client secret provided. Ensure the secret being sent in the request is the client secret value, not the client secret ID, for a secret added to app '${identity.clientId}'.`,
          );
    }
    if (assertion === null) {
      return invalidClient(
        7000218,
        "The request body must contain the following parameter: 'client_assertion' or 'client_secret'.",
      );
    }
    if (form.get("client_assertion_type") !== JWT_BEARER) {
      return fail(
        400,
        "invalid_request",
        900144,
        `The request body must contain the following parameter: 'client_assertion_type' (${JWT_BEARER}).`,
      );
    }
    const jwt = parseJwt(assertion);
    if (!jwt) return invalidClient(50027, "JWT token is invalid or malformed.");
    const isCertificateAssertion =
      "x5t" in jwt.header || "x5t#S256" in jwt.header || jwt.claims.iss === identity.clientId;
    return isCertificateAssertion
      ? checkCertificateAssertion(identity, tenant, jwt)
      : checkFederatedAssertion(identity, assertion, jwt.claims);
  }

  function checkCertificateAssertion(
    identity: EmulatedIdentity,
    tenant: string,
    jwt: NonNullable<ReturnType<typeof parseJwt>>,
  ): EntraError | undefined {
    const { header, claims, signingInput, signature } = jwt;
    const sha256 = typeof header["x5t#S256"] === "string" ? header["x5t#S256"] : undefined;
    const sha1 = typeof header.x5t === "string" ? header.x5t : undefined;
    const thumbprint = Buffer.from(sha256 ?? sha1 ?? "", "base64url")
      .toString("hex")
      .toUpperCase();
    const registered = (certificates.get(identity.name) ?? []).find((candidate) =>
      sha256 ? candidate.sha256 === sha256 : sha1 !== undefined && candidate.sha1 === sha1,
    );
    const keysLink = `Please visit the Azure Portal, Graph Explorer or directly use MS Graph to see configured keys for app Id '${identity.clientId}'.`;
    if (!registered) {
      return invalidClient(
        700027,
        `Client assertion contains an invalid signature. [Reason - The key was not found., Thumbprint of key used by client: '${thumbprint}', ${keysLink}]`,
      );
    }
    if (!verifiesWith(registered.publicKey, header.alg, signingInput, signature)) {
      return invalidClient(
        700027,
        `Client assertion contains an invalid signature. [Reason - The provided signature value did not match the expected signature value., Thumbprint of key used by client: '${thumbprint}', Found key 'Start=${entraDate(registered.validFrom)}, End=${entraDate(registered.validTo)}', ${keysLink}]`,
      );
    }
    const audiences = Array.isArray(claims.aud) ? claims.aud : [claims.aud];
    const accepted = [
      `${url}/${tenant}/oauth2/v2.0/token`,
      `${url}/${tenant}/v2.0`,
      `${url}/${tenant}/oauth2/token`,
    ];
    if (!audiences.some((aud) => typeof aud === "string" && accepted.includes(aud))) {
      return invalidClient(
        700023,
        `Client assertion audience claim does not match Realm issuer. ${CERTIFICATE_DOCS}`,
      );
    }
    if (claims.iss !== identity.clientId || claims.sub !== identity.clientId) {
      return invalidClient(
        700021,
        `Client assertion application identifier doesn't match 'client_id' parameter. ${CERTIFICATE_DOCS}`,
      );
    }
    return timeRangeError(claims);
  }

  function checkFederatedAssertion(
    identity: EmulatedIdentity,
    assertion: string,
    claims: Readonly<Record<string, unknown>>,
  ): EntraError | undefined {
    const issuerUrl = federatedIssuer().url;
    const credentials = (identity.federatedCredentials ?? []).map((credential) => ({
      ...credential,
      issuer: credential.issuer ?? issuerUrl,
    }));
    const iss = String(claims.iss ?? "");
    const byIssuer = credentials.filter((credential) => credential.issuer === iss);
    if (byIssuer.length === 0) {
      return invalidClient(
        700211,
        `No matching federated identity record found for presented assertion issuer '${iss}'. ${FEDERATION_DOCS}`,
      );
    }
    if (iss !== issuerUrl) {
      // Entra would fetch this issuer's keys; the emulator knows only its own issuer.
      return invalidClient(
        50166,
        `Request to External OIDC endpoint failed. The emulator verifies federated assertions of its own issuer '${issuerUrl}' only.`,
      );
    }
    if (!federatedIssuer().verify(assertion).ok) {
      return invalidClient(700027, "Client assertion failed signature validation.");
    }
    const timeRange = timeRangeError(claims);
    if (timeRange) return timeRange;
    const sub = String(claims.sub ?? "");
    const bySubject = byIssuer.filter((credential) => credential.subject === sub);
    if (bySubject.length === 0) {
      return invalidClient(
        700213,
        `No matching federated identity record found for presented assertion subject '${sub}'. ${FEDERATION_DOCS}`,
      );
    }
    const audiences = (Array.isArray(claims.aud) ? claims.aud : [claims.aud]).filter(
      (aud): aud is string => typeof aud === "string",
    );
    if (!bySubject.some((credential) => audiences.some((aud) => credential.audiences.includes(aud)))) {
      return invalidClient(
        700212,
        `No matching federated identity record found for presented assertion audience '${audiences.join(",")}'. ${FEDERATION_DOCS}`,
      );
    }
    return undefined;
  }

  function timeRangeError(claims: Readonly<Record<string, unknown>>): EntraError | undefined {
    const nowSeconds = now() / 1000;
    const exp = typeof claims.exp === "number" ? claims.exp : undefined;
    const nbf = typeof claims.nbf === "number" ? claims.nbf : 0;
    if (
      exp !== undefined &&
      exp + ASSERTION_SKEW_SECONDS > nowSeconds &&
      nbf - ASSERTION_SKEW_SECONDS <= nowSeconds
    ) {
      return undefined;
    }
    return invalidClient(
      700024,
      `Client assertion is not within its valid time range. Current time: ${isoTime(nowSeconds)}, assertion valid from ${isoTime(nbf)}, expiry time of assertion ${exp === undefined ? "(none)" : isoTime(exp)}. ${CERTIFICATE_DOCS}`,
    );
  }

  function sendError(
    response: ServerResponse,
    request: IncomingMessage,
    failure: EntraError,
    headers: Record<string, string> = {},
  ): void {
    const traceId = randomUUID();
    const requested = new URL(request.url ?? "/", "https://emulator.invalid").searchParams.get(
      "client-request-id",
    );
    const correlationId = requested ?? randomUUID();
    const timestamp = new Date(now())
      .toISOString()
      .replace("T", " ")
      .replace(/\.\d+Z$/, "Z");
    sendJson(
      response,
      failure.status,
      {
        error: failure.error,
        error_description: `AADSTS${failure.code}: ${failure.message} Trace ID: ${traceId} Correlation ID: ${correlationId} Timestamp: ${timestamp}`,
        error_codes: [failure.code],
        timestamp,
        trace_id: traceId,
        correlation_id: correlationId,
        error_uri: `https://login.microsoftonline.com/error?code=${failure.code}`,
      },
      headers,
    );
  }

  function tenantNotFound(tenant: string): EntraError {
    return fail(
      400,
      "invalid_tenant",
      90002,
      `Tenant '${tenant}' not found. Check to make sure you have the correct tenant ID and are signing into the correct cloud. Check with your subscription administrator, this may happen if there are no active subscriptions for the tenant.`,
    );
  }

  const server = createServer({ key: options.tls.key, cert: options.tls.cert }, (request, response) => {
    try {
      route(request, response);
    } catch (error) {
      sendJson(response, 500, { error: "server_error", error_description: String(error) });
    }
  });
  server.on("tlsClientError", () => undefined);
  const port = await lifecycle.listen(server, options.port, options.host);
  url = `https://localhost:${port}`;

  return {
    url,
    port,
    get federated() {
      return federatedIssuer();
    },
    tokenEndpoint: `${url}/${tenantId}/oauth2/v2.0/token`,
    registerCertificate,
    answerInstanceDiscovery,
    close: () => lifecycle.close(),
  };
}

function missingParameter(name: string): EntraError {
  return fail(
    400,
    "invalid_request",
    900144,
    `The request body must contain the following parameter: '${name}'.`,
  );
}

function isLocalName(hostname: string): boolean {
  return ["localhost", "127.0.0.1", "[::1]"].includes(hostname.toLowerCase());
}

function sameSecret(given: string, expected: string): boolean {
  const a = createHash("sha256").update(given).digest();
  const b = createHash("sha256").update(expected).digest();
  return expected.length > 0 && timingSafeEqual(a, b);
}

function verifiesWith(key: KeyObject, alg: unknown, signingInput: string, signature: Buffer): boolean {
  if (signature.length === 0) return false;
  const data = Buffer.from(signingInput);
  try {
    if (alg === "RS256") return verify("RSA-SHA256", data, key, signature);
    if (alg === "PS256") {
      return verify(
        "sha256",
        data,
        { key, padding: constants.RSA_PKCS1_PSS_PADDING, saltLength: constants.RSA_PSS_SALTLEN_DIGEST },
        signature,
      );
    }
  } catch {
    return false;
  }
  return false;
}

/** A time as Entra writes it in AADSTS700024: `2024-10-02T22:05:03.0000000Z`. */
function isoTime(epochSeconds: number): string {
  return new Date(epochSeconds * 1000).toISOString().replace(/\.(\d{3})Z$/, ".$10000Z");
}

/** A certificate date as Entra writes it in AADSTS700027: `02/07/2021 17:00:39`. */
function entraDate(date: Date): string {
  const pad = (value: number) => String(value).padStart(2, "0");
  return `${pad(date.getUTCMonth() + 1)}/${pad(date.getUTCDate())}/${date.getUTCFullYear()} ${pad(date.getUTCHours())}:${pad(date.getUTCMinutes())}:${pad(date.getUTCSeconds())}`;
}

function readForm(request: IncomingMessage): Promise<URLSearchParams> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    request.on("data", (chunk: Buffer) => {
      size += chunk.length;
      if (size > MAX_BODY_BYTES) {
        reject(new Error("body too large"));
        request.destroy();
        return;
      }
      chunks.push(chunk);
    });
    request.once("end", () => resolve(new URLSearchParams(Buffer.concat(chunks).toString("utf8"))));
    request.once("error", reject);
  });
}

function sendJson(
  response: ServerResponse,
  status: number,
  body: unknown,
  headers: Record<string, string> = {},
): void {
  const text = JSON.stringify(body);
  response.writeHead(status, {
    "Content-Type": "application/json; charset=utf-8",
    "Content-Length": Buffer.byteLength(text),
    ...headers,
  });
  response.end(text);
}

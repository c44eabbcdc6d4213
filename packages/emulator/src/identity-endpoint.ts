import { randomBytes, randomUUID } from "node:crypto";
import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import type { EmulatedIdentity } from "./resolve-identities.js";
import { ServerLifecycle } from "./server-lifecycle.js";
import type { TokenIssuer } from "./token-issuer.js";
import {
  type IdentityEndpointCounters,
  type IdentityFault,
  type IdentityProtocol,
  type IdentityRequestOutcome,
  statusMessages,
  TokenRequestControl,
} from "./token-request-control.js";

export type {
  IdentityEndpointCounters,
  IdentityFault,
  IdentityProtocol,
  IdentityRequestOutcome,
} from "./token-request-control.js";

/** Options of {@link startIdentityEndpoint}. */
export interface IdentityEndpointOptions {
  /** Signs the tokens. */
  readonly issuer: TokenIssuer;
  /** The identities it serves; the system-assigned one (if any) answers requests that name none. */
  readonly identities: readonly EmulatedIdentity[];
  /** Interface to listen on. Defaults to `127.0.0.1`. */
  readonly host?: string;
  /** Port to listen on. Defaults to 0 (ephemeral). */
  readonly port?: number;
  /** The `X-IDENTITY-HEADER` secret. Defaults to 32 random hex characters. */
  readonly identityHeader?: string;
  /** Lifetime of issued tokens. Defaults to 3600 seconds. */
  readonly tokenLifetimeInSeconds?: number;
  /** Return the same token per (identity, resource) until its half-life, like the MI back-end. Defaults to false. */
  readonly cacheTokens?: boolean;
  /** Clock in epoch milliseconds. Defaults to `Date.now`. */
  readonly now?: () => number;
  /**
   * The fault and counters to use, shared with other token endpoints (the emulator's Entra token
   * endpoint). Defaults to the endpoint's own.
   */
  readonly control?: TokenRequestControl;
}

/** A running identity endpoint; it answers normally until a fault is set. */
export interface IdentityEndpoint {
  /** Base URL, e.g. `http://127.0.0.1:40123`; use it as `AZURE_POD_IDENTITY_AUTHORITY_HOST`. */
  readonly url: string;
  /** App Service endpoint URL (`IDENTITY_ENDPOINT`), `{url}/msi/token`. */
  readonly appServiceEndpoint: string;
  /** The `X-IDENTITY-HEADER` secret (`IDENTITY_HEADER`). */
  readonly identityHeader: string;
  /** Port it listens on. */
  readonly port: number;
  /** Lifetime of the tokens issued from now on, in seconds; settable at run time. */
  tokenLifetimeInSeconds: number;
  /** Injects a fault into the following token requests. */
  setFault(fault: IdentityFault): void;
  /** Reverts to answering normally. */
  resetFault(): void;
  /** A snapshot of the counters. */
  readonly counters: IdentityEndpointCounters;
  /** Sets every counter to zero. */
  resetCounters(): void;
  /** Stops listening and destroys open sockets. Idempotent. */
  close(): Promise<void>;
}

const appServicePath = "/msi/token";

function validLifetime(seconds: number): number {
  if (!Number.isInteger(seconds) || seconds < 1) {
    throw new RangeError(`tokenLifetimeInSeconds must be a positive integer, got ${seconds}.`);
  }
  return seconds;
}
const imdsPaths = new Set(["/metadata/identity/oauth2/token", "/metadata/identity/oauth2/token/"]);

interface CachedToken {
  readonly token: string;
  readonly issuedAt: number;
  readonly notBefore: number;
  readonly expiresOn: number;
}

/**
 * Starts an HTTP server that speaks the App Service managed-identity protocol (`GET /msi/token`,
 * api-version 2019-08-01, `X-IDENTITY-HEADER`) and the IMDS protocol
 * (`GET /metadata/identity/oauth2/token[/]`, api-version 2018-02-01, `Metadata: true`). Unless the
 * options say otherwise it listens on 127.0.0.1 on an ephemeral port and mints a fresh one-hour
 * token per request.
 *
 * @example
 * ```ts
 * const endpoint = await startIdentityEndpoint({ issuer, identities });
 * process.env.IDENTITY_ENDPOINT = endpoint.appServiceEndpoint;
 * process.env.IDENTITY_HEADER = endpoint.identityHeader;
 * ```
 */
export async function startIdentityEndpoint(options: IdentityEndpointOptions): Promise<IdentityEndpoint> {
  const now = options.now ?? Date.now;
  let lifetime = validLifetime(options.tokenLifetimeInSeconds ?? 3600);
  const identityHeader = options.identityHeader ?? randomBytes(16).toString("hex");
  const host = options.host ?? "127.0.0.1";
  const cache = new Map<string, CachedToken>();
  const lifecycle = new ServerLifecycle();
  const control = options.control ?? new TokenRequestControl();
  const takeFault = () => control.takeFault();
  const count = (
    protocol: IdentityProtocol | undefined,
    outcome: IdentityRequestOutcome,
    identity?: string,
  ) => control.count(protocol, outcome, identity);

  function issue(identity: EmulatedIdentity, resource: string): CachedToken {
    const key = `${identity.name}\n${resource}`;
    const nowSeconds = Math.floor(now() / 1000);
    if (options.cacheTokens) {
      const cached = cache.get(key);
      if (cached && nowSeconds < cached.issuedAt + (cached.expiresOn - cached.issuedAt) / 2) return cached;
    }
    const minted = options.issuer.mintToken({ identity, audience: resource, lifetimeInSeconds: lifetime });
    if (options.cacheTokens) cache.set(key, minted);
    return minted;
  }

  function handle(request: IncomingMessage, response: ServerResponse): void {
    const url = new URL(request.url ?? "/", "http://emulator.invalid");
    const protocol: IdentityProtocol | undefined =
      url.pathname === appServicePath ? "appService" : imdsPaths.has(url.pathname) ? "imds" : undefined;
    if (!protocol) {
      sendJson(response, 404, { error: "not_found", error_description: `No route for ${url.pathname}` });
      return;
    }
    const reply = protocol === "appService" ? appServiceReplies : imdsReplies;

    const active = takeFault();
    switch (active.mode) {
      case "down":
        count(protocol, "down");
        request.socket.destroy();
        return;
      case "timeout":
        // Never answer: the socket stays open until the client gives up or close() destroys it.
        count(protocol, "timeout");
        return;
      case "status": {
        count(protocol, "status");
        const headers: Record<string, string> = {};
        if (active.status === 429 || active.status === 503) {
          headers["Retry-After"] = String(active.retryAfterInSeconds ?? 1);
        }
        sendJson(response, active.status, reply.failure(active.status), headers);
        return;
      }
      case "malformed": {
        count(protocol, "malformed");
        if (active.variant === "missing-token") {
          sendJson(response, 200, {
            token_type: "Bearer",
            expires_on: String(Math.floor(now() / 1000) + lifetime),
          });
        } else {
          response.writeHead(200, { "Content-Type": "text/html" });
          response.end("<html><body><h1>502 Bad Gateway</h1></body></html>");
        }
        return;
      }
      case "slow":
        lifecycle.later(active.delayInMs, () => {
          if (!response.destroyed) answer(protocol, url, request, response);
        });
        return;
      default:
        answer(protocol, url, request, response);
    }
  }

  function answer(
    protocol: IdentityProtocol,
    url: URL,
    request: IncomingMessage,
    response: ServerResponse,
  ): void {
    const checked =
      protocol === "appService"
        ? checkAppServiceRequest(request, url.searchParams, identityHeader, options.identities)
        : checkImdsRequest(request, url.searchParams, options.identities);
    if ("status" in checked) {
      count(protocol, "rejected");
      sendJson(response, checked.status, checked.body);
      return;
    }
    const { identity, resource } = checked;
    const minted = issue(identity, resource);
    count(protocol, "issued", identity.name);
    if (protocol === "appService") {
      sendJson(response, 200, {
        access_token: minted.token,
        expires_on: String(minted.expiresOn),
        resource,
        token_type: "Bearer",
        client_id: identity.clientId,
      });
      return;
    }
    const nowSeconds = Math.floor(now() / 1000);
    sendJson(response, 200, {
      access_token: minted.token,
      refresh_token: "",
      expires_in: String(Math.max(0, minted.expiresOn - nowSeconds)),
      expires_on: String(minted.expiresOn),
      not_before: String(minted.notBefore),
      resource,
      token_type: "Bearer",
    });
  }

  const server = createServer((request, response) => {
    try {
      handle(request, response);
    } catch (error) {
      count(undefined, "rejected");
      sendJson(response, 500, { error: "server_error", error_description: String(error) });
    }
  });
  const port = await lifecycle.listen(server, options.port, host);
  const url = `http://${host.includes(":") ? `[${host}]` : host}:${port}`;

  return {
    url,
    appServiceEndpoint: `${url}${appServicePath}`,
    identityHeader,
    port,
    get tokenLifetimeInSeconds() {
      return lifetime;
    },
    set tokenLifetimeInSeconds(seconds: number) {
      lifetime = validLifetime(seconds);
      cache.clear();
    },
    setFault(next: IdentityFault) {
      control.setFault(next);
    },
    resetFault() {
      control.resetFault();
    },
    get counters(): IdentityEndpointCounters {
      return control.counters;
    },
    resetCounters() {
      control.resetCounters();
    },
    close: () => lifecycle.close(),
  };
}

type CheckedRequest =
  | { readonly identity: EmulatedIdentity; readonly resource: string }
  | { readonly status: number; readonly body: unknown };

function checkAppServiceRequest(
  request: IncomingMessage,
  query: URLSearchParams,
  identityHeader: string,
  identities: readonly EmulatedIdentity[],
): CheckedRequest {
  const fail = (status: number, message: string): CheckedRequest => ({
    status,
    body: appServiceError(status, message),
  });
  const secret = request.headers["x-identity-header"];
  if (secret === undefined) return fail(400, "X-IDENTITY-HEADER header is missing.");
  if (secret !== identityHeader) return fail(401, "Unauthorized: the X-IDENTITY-HEADER value is not valid.");
  const apiVersion = query.get("api-version");
  if (!apiVersion) return fail(400, "The api-version query parameter is missing.");
  if (apiVersion !== "2019-08-01") return fail(400, `The api-version '${apiVersion}' is not supported.`);
  const resource = query.get("resource");
  if (!resource) return fail(400, "The resource query parameter is missing.");
  const identity = selectIdentity(identities, {
    clientId: query.get("client_id"),
    resourceId: query.get("mi_res_id"),
    objectId: query.get("object_id") ?? query.get("principal_id"),
  });
  if (!identity) {
    return fail(
      400,
      "No User Assigned or Delegated Managed Identity found for specified ClientId/ResourceId/PrincipalId.",
    );
  }
  return { identity, resource };
}

function checkImdsRequest(
  request: IncomingMessage,
  query: URLSearchParams,
  identities: readonly EmulatedIdentity[],
): CheckedRequest {
  const fail = (description: string): CheckedRequest => ({
    status: 400,
    body: { error: "invalid_request", error_description: description },
  });
  if (request.headers.metadata?.toString().toLowerCase() !== "true") {
    return fail("Required metadata header not specified");
  }
  if (!query.get("api-version")) return fail("Required query variable 'api-version' is missing");
  const resource = query.get("resource");
  if (!resource) return fail("Required query variable 'resource' is missing");
  const identity = selectIdentity(identities, {
    clientId: query.get("client_id"),
    resourceId: query.get("msi_res_id") ?? query.get("mi_res_id"),
    objectId: query.get("object_id") ?? query.get("principal_id"),
  });
  if (!identity) return fail("Identity not found");
  return { identity, resource };
}

interface Selector {
  readonly clientId: string | null;
  readonly resourceId: string | null;
  readonly objectId: string | null;
}

function selectIdentity(
  identities: readonly EmulatedIdentity[],
  selector: Selector,
): EmulatedIdentity | undefined {
  const same = (a: string | undefined, b: string) => a !== undefined && a.toLowerCase() === b.toLowerCase();
  const { clientId, resourceId, objectId } = selector;
  // Service principals sign in at the Entra token endpoint; the MI endpoint knows only managed identities.
  const managed = identities.filter((identity) => identity.kind !== "servicePrincipal");
  if (clientId) return managed.find((identity) => same(identity.clientId, clientId));
  if (resourceId) return managed.find((identity) => same(identity.resourceId, resourceId));
  if (objectId) return managed.find((identity) => same(identity.objectId, objectId));
  return managed.find((identity) => identity.kind === "system");
}

function appServiceError(statusCode: number, message: string) {
  return { statusCode, message, correlationId: randomUUID() };
}

const imdsErrorCodes: Record<number, string> = {
  400: "invalid_request",
  401: "unauthorized_client",
  403: "access_denied",
  404: "not_found",
  429: "too_many_requests",
};

const appServiceReplies = {
  failure: (status: number) =>
    appServiceError(status, statusMessages[status] ?? `The request failed with status ${status}.`),
};

const imdsReplies = {
  failure: (status: number) => ({
    error: imdsErrorCodes[status] ?? (status >= 500 ? "server_error" : "invalid_request"),
    error_description: statusMessages[status] ?? `The request failed with status ${status}.`,
  }),
};

function sendJson(
  response: ServerResponse,
  status: number,
  body: unknown,
  headers: Record<string, string> = {},
) {
  const text = JSON.stringify(body);
  response.writeHead(status, {
    "Content-Type": "application/json; charset=utf-8",
    "Content-Length": Buffer.byteLength(text),
    ...headers,
  });
  response.end(text);
}

import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import { connect, type Socket } from "node:net";
import { TLSSocket } from "node:tls";
import { ServerLifecycle } from "./server-lifecycle.js";

/** The host MSAL sends instance discovery to, whatever the authority (msal-common `AAD_INSTANCE_DISCOVERY_ENDPT`). */
export const INSTANCE_DISCOVERY_HOST = "login.microsoftonline.com";

/** Options of {@link startDiscoveryProxy}. */
export interface DiscoveryProxyOptions {
  /** Interface to listen on. */
  readonly host: string;
  /** Port to listen on. Defaults to 0 (ephemeral). */
  readonly port?: number;
  /** A certificate for `login.microsoftonline.com` from the CA the client trusts (the emulator's). */
  readonly certificate: { readonly key: string; readonly cert: string };
  /** The emulator's Entra authority: its port (tunnelled to) and its instance-discovery answer. */
  readonly authority: {
    readonly port: number;
    answerInstanceDiscovery(request: IncomingMessage, response: ServerResponse): void;
  };
}

/** A running instance-discovery proxy (see {@link startDiscoveryProxy}). */
export interface DiscoveryProxy {
  /** `http://127.0.0.1:<port>`: the `HTTPS_PROXY`. */
  readonly url: string;
  /** Stops listening and destroys open sockets. Idempotent. */
  close(): Promise<void>;
}

/**
 * Starts the HTTP CONNECT proxy that lets MSAL's instance discovery reach the emulator. MSAL (msal-common
 * 16) asks `https://login.microsoftonline.com/common/discovery/instance?…&authorization_endpoint=<authority>`
 * for any authority that is not a known Microsoft cloud, whatever `AZURE_AUTHORITY_HOST` says, and fails
 * the credential (`endpoints_resolution_error`) when that request fails, unless the credential was made
 * with `disableInstanceDiscovery: true`. With `HTTPS_PROXY` set to this proxy (core-rest-pipeline honours
 * it) the request arrives here: a CONNECT to `login.microsoftonline.com:443` is answered with TLS under a
 * certificate from the emulator's CA and only `/…/discovery/instance` is served (everything else: 404);
 * a CONNECT to the authority's own port is tunnelled to it; any other target is refused (403), so
 * nothing leaves the machine through it.
 *
 * @example
 * const proxy = await startDiscoveryProxy({ host: "127.0.0.1", certificate, authority });
 * process.env.HTTPS_PROXY = proxy.url;
 */
export async function startDiscoveryProxy(options: DiscoveryProxyOptions): Promise<DiscoveryProxy> {
  const lifecycle = new ServerLifecycle();
  const track = (socket: Socket) => lifecycle.track(socket);

  // Serves the intercepted login.microsoftonline.com connections.
  const intercepted = createServer((request, response) => {
    const path = new URL(request.url ?? "/", "https://emulator.invalid").pathname;
    if (request.method === "GET" && /^\/[^/]+\/discovery\/instance\/?$/.test(path)) {
      options.authority.answerInstanceDiscovery(request, response);
      return;
    }
    response.writeHead(404, { "Content-Type": "application/json; charset=utf-8" });
    response.end(
      JSON.stringify({
        error: "not_found",
        error_description: `entra-emulator answers only instance discovery for ${INSTANCE_DISCOVERY_HOST}, not ${path}.`,
      }),
    );
  });

  const proxy = createServer((_request, response) => {
    response.writeHead(403, { "Content-Type": "text/plain; charset=utf-8" });
    response.end("entra-emulator's proxy only tunnels HTTPS (CONNECT) to its own Entra endpoints.\n");
  });
  proxy.on("connect", (request: IncomingMessage, socket: Socket, head: Buffer) => {
    const target = parseTarget(request.url ?? "");
    if (target?.host === INSTANCE_DISCOVERY_HOST && target.port === 443) {
      socket.write("HTTP/1.1 200 Connection Established\r\n\r\n");
      if (head.length > 0) socket.unshift(head);
      const secure = new TLSSocket(socket, {
        isServer: true,
        key: options.certificate.key,
        cert: options.certificate.cert,
      });
      secure.on("error", () => socket.destroy());
      track(secure);
      intercepted.emit("connection", secure);
      return;
    }
    if (target && isLocalName(target.host) && target.port === options.authority.port) {
      const upstream = connect(options.authority.port, localAddress(options.host), () => {
        socket.write("HTTP/1.1 200 Connection Established\r\n\r\n");
        if (head.length > 0) upstream.write(head);
        socket.pipe(upstream).pipe(socket);
      });
      track(upstream);
      upstream.on("error", () => socket.destroy());
      socket.on("error", () => upstream.destroy());
      return;
    }
    socket.end(
      "HTTP/1.1 403 Forbidden\r\nContent-Type: text/plain\r\nConnection: close\r\n\r\n" +
        `entra-emulator's proxy does not tunnel to ${request.url}.\n`,
    );
  });
  proxy.on("clientError", (_error, socket) => socket.destroy());

  const port = await lifecycle.listen(proxy, options.port, options.host);
  const listening = localAddress(options.host);
  const host = listening.includes(":") ? `[${listening}]` : listening;

  return {
    url: `http://${host}:${port}`,
    close: () => lifecycle.close(),
  };
}

function parseTarget(authority: string): { host: string; port: number } | undefined {
  const match = /^(\[[^\]]+\]|[^:]+):(\d+)$/.exec(authority);
  if (!match) return undefined;
  return { host: (match[1] as string).toLowerCase(), port: Number(match[2]) };
}

/** An address to reach a server listening on `host` (the loopback one for a wildcard). */
function localAddress(host: string): string {
  if (host === "0.0.0.0") return "127.0.0.1";
  if (host === "::") return "::1";
  return host;
}

function isLocalName(host: string): boolean {
  return host === "localhost" || host === "127.0.0.1" || host === "[::1]";
}

import type { EntraTarget } from "@org/entra-core";
import type { GatewayProtocol, GatewaySession } from "@org/entra-wire";
import type { ProxyFailure } from "./proxy-failure.js";

/** Why the proxy itself refuses a local client (each engine says it in its own protocol). */
export type ProxyRefusalReason = "LOCAL_PASSWORD" | "TOO_MANY_CONNECTIONS" | "SHUTTING_DOWN";

/** One upstream login's credentials: a token from the shared provider and the user it signs in as. */
export interface UpstreamCredentials {
  /** The access token, sent only to the verified upstream server. */
  readonly token: string;
  /** The user name: the configured one, else the name in the token (empty for Azure SQL). */
  readonly user: string;
}

/** What an engine's protocol side of the proxy needs for every client session. */
export interface ProxyContext {
  /** The upstream server and the shared token provider. */
  readonly target: EntraTarget;
  /** Where the upstream server is. */
  readonly upstream: { readonly host: string; readonly port: number };
  /** PEM CA certificates for the upstream server, instead of Node's store. */
  readonly ca: string | undefined;
  /** True when local clients must send the local password (the protocol asks for one). */
  readonly localPasswordRequired: boolean;
  /** True when the proxy has a certificate to offer local clients that ask for TLS. */
  readonly localTls: boolean;
  /** A fresh (cached while valid) token and the user for one upstream login. */
  credentials(signal: AbortSignal): Promise<UpstreamCredentials>;
  /**
   * Describes an upstream failure for the local client, and drops the token from the cache when
   * the server refused it as expired or invalid.
   */
  upstreamFailure(
    error: unknown,
    details?: {
      readonly token?: string | undefined;
      readonly serverMessage?: string | undefined;
      readonly serverCode?: number | string | undefined;
    },
  ): ProxyFailure;
  /** The message for a refusal of the proxy's own. */
  localRefusal(reason: ProxyRefusalReason): ProxyFailure;
}

/** The protocol side of the proxy for one engine. */
export interface ProxyEngineProtocol {
  /** Accept client sockets paused (MySQL greets first, after the upstream greeting arrived). */
  readonly pauseOnConnect: boolean;
  /** Makes the protocol side of one client session. */
  create(
    session: GatewaySession<ProxyRefusalReason>,
    context: ProxyContext,
  ): GatewayProtocol<ProxyRefusalReason>;
}

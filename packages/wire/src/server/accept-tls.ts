import type { Socket } from "node:net";
import { type SecureContext, TLSSocket } from "node:tls";

/** What {@link acceptTls} needs to take a connection over to TLS. */
export interface AcceptTlsOptions {
  /** The server's key and certificate for the handshake. */
  readonly secureContext: SecureContext;
  /** ALPN protocols to accept, e.g. `["postgresql"]`. */
  readonly ALPNProtocols?: string[];
  /**
   * Bytes already read from the raw socket that belong to the TLS handshake (MySQL clients send no
   * reply to wait for after SSLRequest, so the ClientHello may arrive in the same chunk).
   */
  readonly pending?: Buffer;
  /** The plaintext listener to move from the raw socket to the TLS socket. */
  readonly onData: (chunk: Buffer) => void;
  /** Called when the TLS socket fails or closes. */
  readonly onClose: () => void;
}

/**
 * Turns an accepted plaintext connection into the server side of TLS, for a protocol that
 * negotiates TLS in-band (PostgreSQL's SSLRequest, MySQL's CLIENT_SSL): the raw socket stops
 * delivering plaintext, bytes already read are handed back to it for the TLS socket to drain first,
 * and `onData` then receives decrypted bytes.
 *
 * @returns The TLS socket to write to from now on.
 */
export function acceptTls(raw: Socket, options: AcceptTlsOptions): TLSSocket {
  raw.pause();
  raw.off("data", options.onData);
  if (options.pending && options.pending.length > 0) raw.unshift(options.pending);
  const tlsSocket = new TLSSocket(raw, {
    isServer: true,
    secureContext: options.secureContext,
    ...(options.ALPNProtocols ? { ALPNProtocols: options.ALPNProtocols } : {}),
  });
  tlsSocket.on("error", options.onClose);
  tlsSocket.on("close", options.onClose);
  tlsSocket.on("data", options.onData);
  return tlsSocket;
}

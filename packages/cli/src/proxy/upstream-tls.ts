import type { Socket } from "node:net";
import { checkServerIdentity, connect, type TLSSocket } from "node:tls";
import { assertSecureTls, inspectTlsPeer, type TlsFinding } from "@org/entra-core";

/** How the proxy verifies the server it sends tokens to. */
export interface UpstreamTlsOptions {
  /** The server's host name: the certificate must name it. */
  readonly host: string;
  /** The port, for messages (and the connection when no `socket` is given). */
  readonly port: number;
  /** PEM CA certificates to verify the chain with instead of Node's (which include `NODE_EXTRA_CA_CERTS`). */
  readonly ca?: string | undefined;
  /** ALPN protocols to offer (`["tds/8.0"]` for TDS 8 strict encryption). */
  readonly ALPNProtocols?: string[] | undefined;
  /** Aborting destroys the connection and rejects. */
  readonly signal: AbortSignal;
}

/** Node's codes for a certificate that failed verification (chain, dates, or name). */
const CERTIFICATE_ERROR = /CERT|SELF_SIGNED|UNABLE_TO_(GET|VERIFY)|DEPTH_ZERO|ALTNAME|HOSTNAME/;

/**
 * Throws core's `INSECURE_TRANSPORT` error for a finding about the upstream connection, with the
 * hint the proxy's users need (`--ca`), so the proxy words it as every adapter does.
 */
export function refuseInsecureUpstream(finding: TlsFinding): never {
  assertSecureTls(
    {
      ...finding,
      fix: `${finding.fix ?? ""} With entra-db proxy, pass --ca <file> (or NODE_EXTRA_CA_CERTS) for a private CA.`.trim(),
    },
    {},
  );
  throw new Error("unreachable: assertSecureTls throws for a finding");
}

/**
 * Opens TLS to the upstream server, on `socket` (after PostgreSQL's or MySQL's SSLRequest) or on a
 * new connection (TDS 8, TLS first), and resolves only once the chain AND the host name are
 * verified: `rejectUnauthorized` and Node's own `checkServerIdentity` are set here, so nothing in
 * the environment can switch them off, and core's `inspectTlsPeer` checks the result again before
 * anything of the login is sent. Rejects with `EntraAuthError` `INSECURE_TRANSPORT` when the server
 * cannot prove it is `host`, with the socket error otherwise.
 */
export function connectVerifiedTls(options: UpstreamTlsOptions, socket?: Socket): Promise<TLSSocket> {
  return new Promise((resolve, reject) => {
    const tlsSocket = connect({
      ...(socket ? { socket } : { host: options.host, port: options.port }),
      servername: isIpAddress(options.host) ? undefined : options.host,
      host: options.host,
      rejectUnauthorized: true,
      checkServerIdentity,
      minVersion: "TLSv1.2",
      ...(options.ca ? { ca: options.ca } : {}),
      ...(options.ALPNProtocols ? { ALPNProtocols: options.ALPNProtocols } : {}),
    });
    let settled = false;
    const fail = (error: Error) => {
      if (settled) return;
      settled = true;
      cleanup();
      tlsSocket.destroy();
      socket?.destroy();
      const code = (error as { code?: string }).code ?? "";
      if (!CERTIFICATE_ERROR.test(code)) return reject(error);
      try {
        refuseInsecureUpstream({
          setting: "server certificate",
          subject: "The server certificate",
          problem: `of ${options.host}:${options.port} was not verified (${error.message})`,
          fix: "Check the host name, and trust the server's CA.",
        });
      } catch (refusal) {
        reject(refusal);
      }
    };
    const onAbort = () => fail(new Error("the login timed out or was cancelled"));
    const onClose = () => fail(new Error("the server closed the connection during the TLS handshake"));
    const cleanup = () => {
      options.signal.removeEventListener("abort", onAbort);
      tlsSocket.off("error", fail);
      tlsSocket.off("close", onClose);
    };
    if (options.signal.aborted) return onAbort();
    options.signal.addEventListener("abort", onAbort, { once: true });
    tlsSocket.on("error", fail);
    tlsSocket.once("close", onClose);
    tlsSocket.once("secureConnect", () => {
      if (settled) return;
      const finding = inspectTlsPeer(tlsSocket, isIpAddress(options.host) ? undefined : options.host);
      if (finding) {
        settled = true;
        cleanup();
        tlsSocket.destroy();
        try {
          refuseInsecureUpstream(finding);
        } catch (refusal) {
          reject(refusal);
        }
        return;
      }
      settled = true;
      cleanup();
      tlsSocket.setNoDelay(true);
      resolve(tlsSocket);
    });
  });
}

function isIpAddress(host: string): boolean {
  return /^[\d.]+$/.test(host) || host.includes(":");
}

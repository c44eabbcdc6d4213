import { lookup } from "node:dns/promises";
import { isIP, type Socket, connect as tcpConnect } from "node:net";
import { type PeerCertificate, type TLSSocket, connect as tlsConnect } from "node:tls";
import type { Engine } from "@org/entra-core";
import type { Check } from "./check.js";

/** Input of {@link checkNetwork}. */
export interface CheckNetworkInput {
  readonly engine: Engine;
  readonly host: string;
  readonly port: number;
  /** PEM of the CA to trust instead of Node's store (`--ca`). Defaults to Node's store incl. NODE_EXTRA_CA_CERTS. */
  readonly ca?: string | undefined;
  /** Per step (DNS, TCP, TLS). */
  readonly timeoutInMs: number;
}

/** What {@link checkNetwork} found. */
export interface NetworkResult {
  readonly check: Check;
  /** True when the TCP connection opened. */
  readonly reachable: boolean;
}

/** PostgreSQL's SSLRequest: length 8, code 80877103. */
const PG_SSL_REQUEST = Buffer.from([0, 0, 0, 8, 0x04, 0xd2, 0x16, 0x2f]);

const CLIENT_LONG_PASSWORD = 0x1;
const CLIENT_PROTOCOL_41 = 0x200;
const CLIENT_SSL = 0x800;
const CLIENT_SECURE_CONNECTION = 0x8000;
const CLIENT_PLUGIN_AUTH = 0x80000;

/**
 * MySQL's SSLRequest packet (sequence id 1): capability flags with CLIENT_SSL, max packet size,
 * charset utf8mb4, 23 zero bytes.
 */
export function mysqlSslRequest(): Buffer {
  const payload = Buffer.alloc(32);
  payload.writeUInt32LE(
    CLIENT_LONG_PASSWORD | CLIENT_PROTOCOL_41 | CLIENT_SSL | CLIENT_SECURE_CONNECTION | CLIENT_PLUGIN_AUTH,
    0,
  );
  payload.writeUInt32LE(0x01000000, 4);
  payload.writeUInt8(45, 8);
  const header = Buffer.from([32, 0, 0, 1]);
  return Buffer.concat([header, payload]);
}

/** What a MySQL server greeting says. */
export type MysqlGreeting =
  | { readonly kind: "greeting"; readonly serverVersion: string; readonly ssl: boolean }
  | { readonly kind: "error"; readonly code: number; readonly message: string };

/**
 * Parses a MySQL initial handshake packet (header included): protocol 10 with the server version
 * and whether CLIENT_SSL is offered, or an ERR packet. Anything else gives an `error` with code 0.
 */
export function parseMysqlGreeting(packet: Buffer): MysqlGreeting {
  const payload = packet.subarray(4);
  if (payload[0] === 0xff) {
    const code = payload.readUInt16LE(1);
    const text = payload.subarray(3).toString("utf8");
    return { kind: "error", code, message: text.startsWith("#") ? text.slice(6) : text };
  }
  if (payload[0] !== 10)
    return { kind: "error", code: 0, message: `unexpected protocol version ${payload[0]}` };
  const end = payload.indexOf(0, 1);
  const serverVersion = payload.subarray(1, end).toString("utf8");
  // version NUL, thread id (4), auth data part 1 (8), filler (1), capability flags lower 2 bytes
  const capabilities = payload.readUInt16LE(end + 1 + 4 + 8 + 1);
  return { kind: "greeting", serverVersion, ssl: (capabilities & CLIENT_SSL) !== 0 };
}

class StepError extends Error {
  constructor(
    readonly step: "dns" | "tcp" | "tls",
    message: string,
    readonly code?: string,
  ) {
    super(message);
  }
}

function withTimeout<T>(promise: Promise<T>, timeoutInMs: number, onTimeout: () => Error): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(onTimeout()), timeoutInMs);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

/** Reads until `enough(buffer)` says how many bytes make a full message. */
function readMessage(socket: Socket, enough: (buffer: Buffer) => boolean): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    let buffer = Buffer.alloc(0);
    const cleanup = () => {
      socket.off("data", onData);
      socket.off("error", onError);
      socket.off("close", onClose);
    };
    const onData = (chunk: Buffer) => {
      buffer = Buffer.concat([buffer, chunk]);
      if (enough(buffer)) {
        cleanup();
        socket.pause();
        resolve(buffer);
      }
    };
    const onError = (error: Error) => {
      cleanup();
      reject(error);
    };
    const onClose = () => {
      cleanup();
      reject(new Error("the server closed the connection"));
    };
    socket.on("data", onData);
    socket.once("error", onError);
    socket.once("close", onClose);
  });
}

function mysqlPacketComplete(buffer: Buffer): boolean {
  return buffer.length >= 4 && buffer.length >= 4 + buffer.readUIntLE(0, 3);
}

function describeCert(cert: PeerCertificate): string {
  const subject = cert.subject?.CN ?? JSON.stringify(cert.subject);
  const issuer = cert.issuer?.CN ?? cert.issuer?.O ?? JSON.stringify(cert.issuer);
  return `certificate CN=${subject} issued by ${issuer}, valid until ${new Date(cert.valid_to).toISOString().slice(0, 10)}`;
}

async function upgrade(
  socket: Socket,
  input: CheckNetworkInput,
): Promise<{ tls: TLSSocket; cert: PeerCertificate; verifyError?: string }> {
  const ip = isIP(input.host) !== 0;
  const tls = tlsConnect({
    socket,
    host: input.host,
    ...(ip ? {} : { servername: input.host }),
    ...(input.ca ? { ca: input.ca } : {}),
    // Verify ourselves below, to report the certificate even when it is not trusted.
    rejectUnauthorized: false,
    minVersion: "TLSv1.2",
  });
  await new Promise<void>((resolve, reject) => {
    tls.once("secureConnect", () => resolve());
    tls.once("error", reject);
  });
  const cert = tls.getPeerCertificate();
  return tls.authorized
    ? { tls, cert }
    : { tls, cert, verifyError: String(tls.authorizationError ?? "certificate not verified") };
}

const UNTRUSTED = new Set([
  "SELF_SIGNED_CERT_IN_CHAIN",
  "DEPTH_ZERO_SELF_SIGNED_CERT",
  "UNABLE_TO_GET_ISSUER_CERT_LOCALLY",
  "UNABLE_TO_GET_ISSUER_CERT",
  "UNABLE_TO_VERIFY_LEAF_SIGNATURE",
]);

function tlsFailure(verifyError: string, certText: string, host: string): { cause: string; fix: string } {
  if (UNTRUSTED.has(verifyError)) {
    return {
      cause: `TLS verification failed (${verifyError}): the server's ${certText}, from a CA this Node process does not trust.`,
      fix: "Trust that CA: start Node with NODE_EXTRA_CA_CERTS=<ca.pem> (read only at start-up), or pass it explicitly (--ca <file> here; ssl: { ca } with pg / mysql2; PGSSLROOTCERT for psql). Azure's own certificates chain to roots Node already trusts: seeing this against Azure means a proxy intercepts TLS. Never turn verification off.",
    };
  }
  if (verifyError === "CERT_HAS_EXPIRED" || verifyError === "CERT_NOT_YET_VALID") {
    return {
      cause: `TLS verification failed (${verifyError}): ${certText}.`,
      fix: "Check this machine's clock; on a self-managed server renew the certificate.",
    };
  }
  return {
    cause: `TLS verification failed (${verifyError}): ${certText}, which does not name "${host}".`,
    fix: "Connect with the host name the certificate is issued for (for Azure the server's FQDN, e.g. <server>.postgres.database.azure.com), not an IP address or alias.",
  };
}

/**
 * The `network` check: resolves the host, opens TCP to host:port and negotiates TLS the way the
 * engine's clients do (PostgreSQL: SSLRequest, then TLS; MySQL: read the greeting, SSLRequest,
 * then TLS), verifying the certificate chain and host name. Reports the certificate or the
 * verification error. Azure SQL gets DNS and TCP only. Never sends credentials.
 */
export async function checkNetwork(input: CheckNetworkInput): Promise<NetworkResult> {
  const { host, port, timeoutInMs } = input;
  const where = `${host}:${port}`;
  let address = host;
  let socket: Socket | undefined;
  let tls: TLSSocket | undefined;
  const steps: string[] = [];
  try {
    if (isIP(host) === 0) {
      const addresses = await withTimeout(
        lookup(host, { all: true }).catch((error: NodeJS.ErrnoException) => {
          throw new StepError("dns", `${host} does not resolve (${error.code ?? error.message})`, error.code);
        }),
        timeoutInMs,
        () => new StepError("dns", `no DNS answer for ${host} within ${timeoutInMs / 1000} s`, "ETIMEOUT"),
      );
      address = addresses[0]?.address ?? host;
      steps.push(`${host} -> ${addresses.map((a) => a.address).join(", ")}`);
    }
    const started = Date.now();
    const opened = tcpConnect({ host: address, port });
    socket = opened;
    await withTimeout(
      new Promise<void>((resolve, reject) => {
        opened.once("connect", () => resolve());
        opened.once("error", (error: NodeJS.ErrnoException) =>
          reject(new StepError("tcp", `TCP ${where}: ${error.code ?? error.message}`, error.code)),
        );
      }),
      timeoutInMs,
      () => new StepError("tcp", `TCP ${where}: no answer within ${timeoutInMs / 1000} s`, "ETIMEDOUT"),
    );
    steps.push(`TCP ${where} open (${Date.now() - started} ms)`);

    if (input.engine === "sqlserver") {
      return {
        reachable: true,
        check: {
          name: "network",
          status: "ok",
          detail: `${steps.join(", ")}; TLS is not checked for Azure SQL`,
        },
      };
    }

    if (input.engine === "postgresql") {
      opened.write(PG_SSL_REQUEST);
      const answer = await withTimeout(
        readMessage(opened, (b) => b.length >= 1),
        timeoutInMs,
        () => new StepError("tls", "no answer to the SSLRequest", "ETIMEDOUT"),
      );
      if (answer[0] !== 0x53) {
        throw new StepError(
          "tls",
          `the server refused TLS (answered "${String.fromCharCode(answer[0] ?? 0)}")`,
          "NO_TLS",
        );
      }
    } else {
      const packet = await withTimeout(
        readMessage(opened, mysqlPacketComplete),
        timeoutInMs,
        () => new StepError("tls", "no MySQL greeting", "ETIMEDOUT"),
      );
      const greeting = parseMysqlGreeting(packet);
      if (greeting.kind === "error") {
        throw new StepError(
          "tls",
          `the server refused the connection: ERROR ${greeting.code}: ${greeting.message}`,
          "MYSQL_ERR",
        );
      }
      if (!greeting.ssl)
        throw new StepError("tls", `the server (${greeting.serverVersion}) does not offer TLS`, "NO_TLS");
      steps.push(`MySQL ${greeting.serverVersion}`);
      opened.write(mysqlSslRequest());
    }
    opened.resume();
    const upgraded = await withTimeout(
      upgrade(opened, input).catch((error: NodeJS.ErrnoException) => {
        throw new StepError("tls", `TLS handshake failed: ${error.message}`, error.code);
      }),
      timeoutInMs,
      () => new StepError("tls", "TLS handshake timed out", "ETIMEDOUT"),
    );
    tls = upgraded.tls;
    const certText = describeCert(upgraded.cert);
    const certData = {
      subject: upgraded.cert.subject?.CN,
      issuer: upgraded.cert.issuer?.CN,
      validTo: upgraded.cert.valid_to,
      subjectAltName: upgraded.cert.subjectaltname,
      protocol: upgraded.tls.getProtocol(),
    };
    if (upgraded.verifyError) {
      const { cause, fix } = tlsFailure(upgraded.verifyError, certText, host);
      return {
        reachable: true,
        check: {
          name: "network",
          status: "fail",
          detail: `${steps.join(", ")}; TLS not trusted: ${upgraded.verifyError}`,
          cause,
          fix,
          data: { ...certData, verifyError: upgraded.verifyError },
        },
      };
    }
    return {
      reachable: true,
      check: {
        name: "network",
        status: "ok",
        detail: `${steps.join(", ")}; ${upgraded.tls.getProtocol()} verified, ${certText}`,
        data: certData,
      },
    };
  } catch (error) {
    const step = error instanceof StepError ? error : new StepError("tcp", String((error as Error).message));
    return { reachable: step.step === "tls", check: networkFailure(step, where, steps) };
  } finally {
    tls?.destroy();
    socket?.destroy();
  }
}

function networkFailure(error: StepError, where: string, steps: string[]): Check {
  const detail = [...steps, error.message].join(", ");
  const base = { name: "network", status: "fail" as const, detail };
  if (error.step === "dns") {
    return {
      ...base,
      cause: "The host name does not resolve.",
      fix: "Check the host (Azure: <server>.postgres.database.azure.com / <server>.mysql.database.azure.com). With a private endpoint, run from inside the VNet with the private DNS zone linked.",
    };
  }
  if (error.step === "tcp") {
    return error.code === "ECONNREFUSED"
      ? {
          ...base,
          cause: `Nothing accepts connections on ${where}.`,
          fix: "Check --port / the *_PORT variable (PostgreSQL 5432, MySQL 3306) and that the server is running.",
        }
      : {
          ...base,
          cause: `${where} does not answer: a firewall drops the connection, or the host is wrong.`,
          fix: "Azure: add this client's public IP to the server's firewall rules (Networking), or connect through the private endpoint from inside the VNet.",
        };
  }
  if (error.code === "NO_TLS") {
    return {
      ...base,
      cause: "The server does not offer TLS; a token must never be sent in clear text.",
      fix: "Connect to the Azure server itself (it always offers TLS), not to a proxy or local server without TLS.",
    };
  }
  return {
    ...base,
    cause: "The TLS handshake did not complete.",
    fix: "Check that host:port is the database server (not another service) and that no proxy interferes with TLS.",
  };
}

import type { TLSSocket } from "node:tls";
import { EntraAuthError, redactToken } from "@org/entra-core";
import {
  buildDone,
  buildErrorToken,
  buildFedAuthLogin7,
  buildPackets,
  buildPreloginRequest,
  buildPreloginResponse,
  DoneStatus,
  Encryption,
  FeatureId,
  type GatewayBackendLogin,
  type GatewayProtocol,
  type GatewaySession,
  type Login7Fields,
  parseLoginResponse,
  parsePrelogin,
  readLogin7,
  TDS_DEFAULT_PACKET_SIZE,
  TDS_HEADER_LENGTH,
  TDS_MAX_PACKET_SIZE,
  TdsMessageReader,
  TdsPacketStatus,
  TdsPacketType,
  TdsProtocolError,
  withoutFedAuthAck,
} from "@org/entra-wire";
import type { ProxyContext, ProxyEngineProtocol, ProxyRefusalReason } from "./proxy-engine.js";
import { connectVerifiedTls } from "./upstream-tls.js";

/** The error number, state and class a refusal is sent with. */
interface ErrorCode {
  readonly number: number;
  readonly state: number;
  readonly class: number;
}

/**
 * Each refusal of the proxy's own as SQL Server says it: login failed; the resource limit reached
 * (10928, which clients such as tedious retry); shutdown in progress.
 */
const REFUSAL_ERROR: Readonly<Record<ProxyRefusalReason, ErrorCode>> = {
  LOCAL_PASSWORD: { number: 18456, state: 1, class: 14 },
  TOO_MANY_CONNECTIONS: { number: 10928, state: 1, class: 20 },
  SHUTTING_DOWN: { number: 6005, state: 1, class: 14 },
};

/** A failure before the upstream answered the login (no token, unreachable, unverified). */
const LOGIN_FAILED: ErrorCode = { number: 18456, state: 1, class: 14 };

/** The version the proxy's PRELOGIN response claims (Azure SQL Database's); clients want 9 or more. */
const PRELOGIN_VERSION: readonly [number, number, number, number] = [12, 0, 2000, 0];
/** Largest PRELOGIN or LOGIN7 a local client may send. */
const MAX_LOGIN_MESSAGE_LENGTH = 128 * 1024;
/** Largest PRELOGIN or login response the upstream may send. */
const MAX_UPSTREAM_MESSAGE_LENGTH = 1024 * 1024;
/** Azure SQL redirects once (gateway to worker); more is a loop. */
const MAX_REDIRECTS = 2;
/** The server name in the proxy's own ERROR tokens. */
const PROXY_SERVER_NAME = "entra-db proxy";

/** The Azure SQL (TDS) side of `entra-db proxy`. */
export const tdsProxyProtocol: ProxyEngineProtocol = {
  pauseOnConnect: false,
  create: (session, context) => new TdsProxyLogin(session, context),
};

/**
 * One local TDS client of the proxy: its PRELOGIN (answered ENCRYPT_NOT_SUP: local connections are
 * plain, or TDS 8 strict TLS when the proxy has a certificate and the client opens with a
 * ClientHello), its LOGIN7 (SQL authentication; the password is the local password when one is
 * required), then the upstream login over TDS 8 with a token, whose response the client receives
 * before bytes are relayed.
 */
class TdsProxyLogin implements GatewayProtocol<ProxyRefusalReason> {
  readonly reader = new TdsMessageReader(MAX_LOGIN_MESSAGE_LENGTH);
  readonly #session: GatewaySession<ProxyRefusalReason>;
  readonly #context: ProxyContext;
  #phase: "first-bytes" | "prelogin" | "login7" | "authorizing" = "first-bytes";
  #clientVersion: [number, number, number, number] = [0, 0, 0, 0];
  #login: Login7Fields | undefined;
  #database = "";

  constructor(session: GatewaySession<ProxyRefusalReason>, context: ProxyContext) {
    this.#session = session;
    this.#context = context;
    session.listen();
  }

  get user(): string {
    return this.#login?.userName ?? "";
  }

  readNext(): boolean {
    switch (this.#phase) {
      case "first-bytes":
        return this.#detectTls();
      case "prelogin":
        return this.#readPrelogin();
      case "login7":
        return this.#readLogin7();
      case "authorizing":
        return false;
    }
  }

  refusal(reason: ProxyRefusalReason): Buffer {
    return refusalMessage(this.#context.localRefusal(reason).text, REFUSAL_ERROR[reason]);
  }

  async openBackendSession(_backendUser: string, signal: AbortSignal): Promise<GatewayBackendLogin> {
    const context = this.#context;
    const login = this.#login as Login7Fields;
    let token: string | undefined;
    let upstream: UpstreamConnection | undefined;
    try {
      token = (await context.credentials(signal)).token;
      let target = {
        host: context.upstream.host,
        port: context.upstream.port,
        serverName: context.upstream.host,
      };
      for (let redirects = 0; ; redirects += 1) {
        upstream = new UpstreamConnection(
          await connectVerifiedTls({
            host: target.host,
            port: target.port,
            ca: context.ca,
            ALPNProtocols: ["tds/8.0"],
            signal,
          }),
          signal,
        );
        // Inside TDS 8's TLS the PRELOGIN negotiates no encryption (as SqlClient and tedious send it).
        upstream.send(TdsPacketType.prelogin, buildPreloginRequest({ version: this.#clientVersion }));
        const prelogin = parsePrelogin((await upstream.read(TdsPacketType.tabularResult)).payload);
        upstream.send(
          TdsPacketType.login7,
          buildFedAuthLogin7(login, {
            token,
            fedAuthEcho: prelogin.fedAuthRequired === 1,
            // The server name the client gave is the proxy's; the upstream wants its own.
            serverName: target.serverName,
            database: this.#database,
          }),
        );
        const reply = await upstream.read(TdsPacketType.tabularResult);
        const response = parseLoginResponse(reply.payload);
        if (response.loginAck && response.routing) {
          // Azure SQL's redirect policy: log in again at the worker it names (verified as that name).
          upstream.destroy();
          if (redirects >= MAX_REDIRECTS) throw new Error("the server redirected the login too many times");
          if (!isSameService(context.upstream.host, response.routing.host)) {
            throw new EntraAuthError(
              "INSECURE_TRANSPORT",
              `The server ${context.upstream.host} redirected the login to ${response.routing.host}, outside ${serviceDomain(context.upstream.host)}; the token was not sent there.`,
              {
                hint: "Connect to the server's own name (<server>.database.windows.net); check for a proxy in between.",
              },
            );
          }
          target = {
            host: response.routing.host,
            port: response.routing.port,
            serverName: response.routing.server,
          };
          continue;
        }
        if (response.loginAck) {
          // A client that asked for FEDAUTH expects its acknowledgement; one that did not refuses it.
          const fedAuthAsked = login.features.some((feature) => feature.id === FeatureId.fedAuth);
          const payload = fedAuthAsked ? reply.payload : withoutFedAuthAck(response);
          const packetSize = Math.min(
            TDS_DEFAULT_PACKET_SIZE,
            response.packetSize ?? TDS_DEFAULT_PACKET_SIZE,
          );
          return {
            ok: true,
            socket: upstream.release(),
            reply: buildPackets(TdsPacketType.tabularResult, payload, { packetSize, spid: reply.spid }),
          };
        }
        upstream.destroy();
        const error = response.errors[0];
        if (!error) throw new Error("the server answered the login with neither LOGINACK nor an error");
        const failure = context.upstreamFailure(undefined, {
          token,
          serverMessage: error.message,
          serverCode: error.number,
        });
        return { ok: false, refusal: refusalMessage(redactToken(failure.text, token), error) };
      }
    } catch (error) {
      upstream?.destroy();
      const failure = context.upstreamFailure(error, { token });
      // Belt and braces: whatever a message quoted, the token never reaches the local client.
      return { ok: false, refusal: refusalMessage(redactToken(failure.text, token), LOGIN_FAILED) };
    }
  }

  /** A first byte of 0x16 is a TLS ClientHello: a TDS 8 (`encrypt: "strict"`) client. */
  #detectTls(): boolean {
    const bytes = this.reader.takeRemainder();
    if (bytes.length === 0) return false;
    const session = this.#session;
    if (bytes[0] === 0x16) {
      if (!this.#context.localTls) {
        // No certificate to answer with, and TDS has no plaintext way to say so before TLS.
        session.destroy();
        return false;
      }
      this.#phase = "prelogin";
      session.upgradeToTls({ ALPNProtocols: ["tds/8.0"], pending: bytes });
      return false;
    }
    this.reader.push(bytes);
    this.#phase = "prelogin";
    return true;
  }

  #readPrelogin(): boolean {
    const message = this.reader.readMessage();
    if (message === undefined) return false;
    if (message.type !== TdsPacketType.prelogin) throw new TdsProtocolError("Expected PRELOGIN.");
    const prelogin = parsePrelogin(message.payload);
    const version = prelogin.version?.split(".").map(Number);
    if (version?.length === 4) this.#clientVersion = version as [number, number, number, number];
    // In strict TLS the client's answer is echoed; in plaintext there is no TLS to offer.
    const encryption = this.#session.tls
      ? (prelogin.encryption ?? Encryption.notSupported)
      : Encryption.notSupported;
    this.#session.client.write(
      buildPackets(
        TdsPacketType.tabularResult,
        buildPreloginResponse({ version: PRELOGIN_VERSION, encryption }),
      ),
    );
    this.#phase = "login7";
    return true;
  }

  #readLogin7(): boolean {
    const message = this.reader.readMessage();
    if (message === undefined) return false;
    if (message.type !== TdsPacketType.login7) throw new TdsProtocolError("Expected LOGIN7.");
    const login = readLogin7(message.payload);
    this.#login = login;
    this.#database = login.database || this.#context.target.database || "";
    this.#phase = "authorizing";
    this.#session.authorize(login.password, { user: login.userName, database: this.#database });
    return false;
  }
}

/** A TABULAR_RESULT with one ERROR token saying `text`, then DONE with the error bit. */
function refusalMessage(text: string, code: ErrorCode): Buffer {
  return buildPackets(
    TdsPacketType.tabularResult,
    Buffer.concat([
      buildErrorToken({ ...code, message: text, serverName: PROXY_SERVER_NAME }),
      buildDone({ status: DoneStatus.error }),
    ]),
  );
}

/** One whole message from the upstream, with the SPID its first packet carried. */
interface UpstreamMessage {
  readonly type: number;
  readonly spid: number;
  readonly payload: Buffer;
}

/**
 * The login conversation on a verified upstream TLS socket: writes messages as packets and reads
 * whole messages, keeping each one's SPID (SqlClient reads its session id from the packet header).
 */
class UpstreamConnection {
  readonly #socket: TLSSocket;
  readonly #signal: AbortSignal;
  #buffer: Buffer = Buffer.alloc(0);

  constructor(socket: TLSSocket, signal: AbortSignal) {
    this.#socket = socket;
    this.#signal = signal;
    // Kept through the relay: an error between reads, or before piping starts, only closes it.
    socket.on("error", () => socket.destroy());
  }

  send(type: number, payload: Buffer): void {
    this.#socket.write(buildPackets(type, payload, { packetSize: TDS_DEFAULT_PACKET_SIZE }));
  }

  /** The next whole message, which must be of `type`. */
  read(type: number): Promise<UpstreamMessage> {
    const socket = this.#socket;
    const signal = this.#signal;
    return new Promise<UpstreamMessage>((resolve, reject) => {
      const settle = (error: Error | undefined, message?: UpstreamMessage) => {
        socket.pause();
        socket.off("data", onData);
        socket.off("error", onError);
        socket.off("close", onClose);
        signal.removeEventListener("abort", onAbort);
        if (error) reject(error);
        else resolve(message as UpstreamMessage);
      };
      const attempt = (): boolean => {
        try {
          const message = this.#take();
          if (message === undefined) return false;
          if (message.type !== type)
            throw new TdsProtocolError(`Unexpected message type ${message.type} from the server.`);
          settle(undefined, message);
        } catch (error) {
          settle(error as Error);
        }
        return true;
      };
      const onData = (chunk: Buffer) => {
        this.#buffer = this.#buffer.length === 0 ? chunk : Buffer.concat([this.#buffer, chunk]);
        attempt();
      };
      const onError = (error: Error) => settle(error);
      const onClose = () => settle(new Error("the server closed the connection during the login"));
      const onAbort = () => settle(new Error("the login timed out or was cancelled"));
      if (attempt()) return;
      if (signal.aborted) return onAbort();
      signal.addEventListener("abort", onAbort, { once: true });
      socket.on("data", onData);
      socket.on("error", onError);
      socket.on("close", onClose);
      socket.resume();
    });
  }

  /** Hands the socket over for relaying: paused, with an error listener, unread bytes put back. */
  release(): TLSSocket {
    const socket = this.#socket;
    socket.pause();
    if (this.#buffer.length > 0) socket.unshift(this.#buffer);
    this.#buffer = Buffer.alloc(0);
    return socket;
  }

  destroy(): void {
    this.#socket.destroy();
  }

  /** Takes one whole message off the buffer, or undefined when more bytes are needed. */
  #take(): UpstreamMessage | undefined {
    const buffer = this.#buffer;
    const parts: Buffer[] = [];
    let offset = 0;
    let total = 0;
    while (offset + TDS_HEADER_LENGTH <= buffer.length) {
      const length = buffer.readUInt16BE(offset + 2);
      if (length < TDS_HEADER_LENGTH || length > TDS_MAX_PACKET_SIZE) {
        throw new TdsProtocolError(`Bad packet length ${length} from the server.`);
      }
      if (offset + length > buffer.length) break;
      if (buffer.readUInt8(offset) !== buffer.readUInt8(0))
        throw new TdsProtocolError("Mixed packet types from the server.");
      parts.push(buffer.subarray(offset + TDS_HEADER_LENGTH, offset + length));
      total += length - TDS_HEADER_LENGTH;
      if (total > MAX_UPSTREAM_MESSAGE_LENGTH) throw new TdsProtocolError("Login response too long.");
      const last = (buffer.readUInt8(offset + 1) & TdsPacketStatus.endOfMessage) !== 0;
      offset += length;
      if (last) {
        this.#buffer = buffer.subarray(offset);
        return { type: buffer.readUInt8(0), spid: buffer.readUInt16BE(4), payload: Buffer.concat(parts) };
      }
    }
    if (buffer.length > MAX_UPSTREAM_MESSAGE_LENGTH + TDS_MAX_PACKET_SIZE) {
      throw new TdsProtocolError("Login response too long.");
    }
    return undefined;
  }
}

/** The DNS zone a server's redirects must stay in: its last three labels (`database.windows.net`). */
function serviceDomain(host: string): string {
  return host.toLowerCase().split(".").slice(-3).join(".");
}

/**
 * True when a redirect target is the server itself or in its zone (Azure SQL redirects from
 * `<server>.database.windows.net` to `<worker>.<region>.worker.database.windows.net`): a verified
 * server cannot send the token to a host of another domain, even one with a valid certificate.
 */
function isSameService(upstream: string, target: string): boolean {
  const from = upstream.toLowerCase();
  const to = target.toLowerCase();
  if (from === to) return true;
  const zone = serviceDomain(from);
  return from.split(".").length >= 3 && to.endsWith(`.${zone}`);
}

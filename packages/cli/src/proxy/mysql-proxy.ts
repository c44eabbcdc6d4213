import { randomBytes } from "node:crypto";
import { EntraAuthError, isEntraAuthError, redactToken } from "@org/entra-core";
import {
  askForClearPassword,
  authenticateMysqlBackend,
  buildErrorPacket,
  buildHandshake,
  buildPacket,
  type GatewayBackendLogin,
  type GatewayProtocol,
  type GatewaySession,
  MYSQL_MAX_LOGIN_PACKET_LENGTH,
  MysqlBackendError,
  type MysqlBackendSession,
  MysqlCapability,
  type MysqlErrorFields,
  type MysqlHandshake,
  type MysqlHandshakeResponse,
  MysqlLoginSequence,
  MysqlPacketReader,
  openMysqlBackend,
  parseClearPassword,
  parseClientFirstPacket,
} from "@org/entra-wire";
import type { ProxyContext, ProxyEngineProtocol, ProxyRefusalReason } from "./proxy-engine.js";
import type { ProxyFailure } from "./proxy-failure.js";
import { connectVerifiedTls } from "./upstream-tls.js";

/** Error number and SQLSTATE of each refusal of the proxy's own: access denied, too many connections, server shutdown. */
const REFUSAL_ERROR: Readonly<
  Record<ProxyRefusalReason, { readonly code: number; readonly sqlState: string }>
> = {
  LOCAL_PASSWORD: { code: 1045, sqlState: "28000" },
  TOO_MANY_CONNECTIONS: { code: 1040, sqlState: "08004" },
  SHUTTING_DOWN: { code: 1053, sqlState: "08S01" },
};

/** Capabilities the proxy never offers local clients: it does not compress, and the upstream login drops query attributes. */
const CAPABILITIES_NOT_OFFERED =
  MysqlCapability.compress | MysqlCapability.zstdCompression | MysqlCapability.queryAttributes;

/** The MySQL side of `entra-db proxy`. */
export const mysqlProxyProtocol: ProxyEngineProtocol = {
  pauseOnConnect: true,
  create: (session, context) => new MysqlProxyLogin(session, context),
};

/**
 * One local MySQL client of the proxy: opens the upstream connection and greets the client with its
 * server version and thread id (so `KILL QUERY` works) but a scramble of our own, reads SSLRequest
 * and HandshakeResponse41 (sequence ids checked), asks for the local password in cleartext when one
 * is required, then logs in upstream over verified TLS with a token answering the server's switch
 * to `mysql_clear_password`, and relays bytes.
 */
class MysqlProxyLogin implements GatewayProtocol<ProxyRefusalReason> {
  readonly reader = new MysqlPacketReader(MYSQL_MAX_LOGIN_PACKET_LENGTH + 4);
  readonly #session: GatewaySession<ProxyRefusalReason>;
  readonly #context: ProxyContext;
  #upstream: MysqlBackendSession | undefined;
  /** The login's sequence ids toward the client. */
  readonly #sequence = new MysqlLoginSequence();
  #response: MysqlHandshakeResponse | undefined;

  constructor(session: GatewaySession<ProxyRefusalReason>, context: ProxyContext) {
    this.#session = session;
    this.#context = context;
    this.#greet().catch(() => session.destroy());
  }

  get user(): string {
    return this.#response?.user ?? "";
  }

  readNext(): boolean {
    const packet = this.reader.readPacket(MYSQL_MAX_LOGIN_PACKET_LENGTH);
    if (packet === undefined) return false;
    if (!this.#sequence.accept(packet)) {
      this.#session.destroy(); // out-of-order packet: a confused or hostile client
      return false;
    }
    if (this.#session.phase === "startup") this.#onClientFirstPacket(packet.payload);
    else this.#session.authorize(parseClearPassword(packet.payload), this.#login());
    return true;
  }

  refusal(reason: ProxyRefusalReason): Buffer {
    return this.#sequence.error({
      ...REFUSAL_ERROR[reason],
      message: this.#context.localRefusal(reason).text,
    });
  }

  async openBackendSession(_backendUser: string, signal: AbortSignal): Promise<GatewayBackendLogin> {
    const context = this.#context;
    const response = this.#response as MysqlHandshakeResponse;
    const upstream = this.#upstream as MysqlBackendSession;
    const { host, port } = context.upstream;
    let token: string | undefined;
    try {
      const credentials = await context.credentials(signal);
      token = credentials.token;
      const login = {
        user: credentials.user,
        password: token,
        database: response.database || context.target.database || undefined,
        capabilities: response.capabilities,
        extendedCapabilities: response.extendedCapabilities,
        maxPacketSize: response.maxPacketSize,
        characterSet: response.characterSet,
        connectAttributes: response.connectAttributes,
        clearPasswordOnly: true,
        signal,
      };
      await upstream.startTls(login, (raw) =>
        connectVerifiedTls({ host, port, ca: context.ca, signal }, raw),
      );
      const result = await authenticateMysqlBackend(upstream, login);
      if (result.ok)
        return { ok: true, socket: upstream.detach(), reply: this.#sequence.packet(result.okPayload) };
      if (result.cause !== undefined) throw result.cause;
      const failure = context.upstreamFailure(undefined, {
        token,
        serverMessage: redactToken(result.error.message, token),
        serverCode: result.error.code,
      });
      return { ok: false, refusal: this.#failurePacket(failure, token, result.error) };
    } catch (error) {
      upstream.destroy();
      return {
        ok: false,
        refusal: this.#failurePacket(context.upstreamFailure(rootCause(error), { token }), token),
      };
    }
  }

  /**
   * Connects to the upstream server and greets the client with its greeting; a server that offers
   * no TLS, cannot be reached or answers with an error gets the client an ERR instead.
   */
  async #greet(): Promise<void> {
    const session = this.#session;
    const context = this.#context;
    const { host, port } = context.upstream;
    let opened: MysqlBackendSession;
    try {
      opened = await openMysqlBackend({ host, port, signal: session.signal });
    } catch (error) {
      if (session.phase !== "startup") return;
      const server =
        error instanceof MysqlBackendError && error.cause === undefined ? error.fields : undefined;
      const failure = server
        ? context.upstreamFailure(undefined, { serverMessage: server.message, serverCode: server.code })
        : context.upstreamFailure(rootCause(error));
      session.refuse(greetingErrorPacket(failure, server));
      return;
    }
    if (session.phase !== "startup") {
      opened.destroy();
      return;
    }
    if (!(opened.greeting.capabilities & MysqlCapability.ssl)) {
      opened.destroy();
      const failure = context.upstreamFailure(
        new EntraAuthError(
          "INSECURE_TRANSPORT",
          `The server at ${host}:${port} offers no TLS; the token was not sent.`,
          { hint: "Azure Database for MySQL always offers TLS: check the host and port." },
        ),
      );
      session.refuse(greetingErrorPacket(failure));
      return;
    }
    this.#upstream = opened;
    session.hold(opened);
    session.client.write(this.#sequence.packet(buildHandshake(this.#greeting(opened.greeting))));
    session.listen();
  }

  /**
   * The upstream greeting as the client sees it: the same server version, thread id, collation and
   * status, without compression or query attributes, `CLIENT_SSL` only when the proxy has a
   * certificate, and a fresh scramble of ours for `mysql_native_password` (never checked: the
   * local password, when required, comes in cleartext after a switch).
   */
  #greeting(upstream: MysqlHandshake): MysqlHandshake {
    let capabilities = upstream.capabilities & ~CAPABILITIES_NOT_OFFERED;
    capabilities = this.#context.localTls
      ? capabilities | MysqlCapability.ssl
      : capabilities & ~MysqlCapability.ssl;
    return {
      ...upstream,
      capabilities: capabilities >>> 0,
      authPluginData: scramble(),
      authPluginName: "mysql_native_password",
    };
  }

  #onClientFirstPacket(payload: Buffer): void {
    const session = this.#session;
    const packet = parseClientFirstPacket(payload);
    if (packet.kind === "ssl-request") {
      // TLS twice, or TLS the greeting did not offer: a confused or hostile client.
      if (session.tls || !this.#context.localTls) {
        session.destroy();
        return;
      }
      // MySQL sends nothing after SSLRequest, so the ClientHello may already sit in our buffer:
      // hand it back to the raw socket, which the TLS socket drains first.
      session.upgradeToTls({ pending: this.reader.takeRemainder() });
      return;
    }
    this.#response = packet;
    if (!this.#context.localPasswordRequired) {
      // Whatever the client answered our scramble with: loopback clients need no password.
      session.authorize("", this.#login());
      return;
    }
    askForClearPassword(session, this.#sequence, packet, this.#login());
  }

  #login(): { user: string; database: string } {
    const response = this.#response as MysqlHandshakeResponse;
    return { user: response.user, database: response.database || this.#context.target.database || "" };
  }

  /**
   * The ERR for a failed upstream login: the server's own number for a refusal the proxy does not
   * recognise, 2013 for an upstream that went away, else 1045 (access denied). The token is
   * redacted once more: the client must never read it.
   */
  #failurePacket(failure: ProxyFailure, token: string | undefined, server?: MysqlErrorFields): Buffer {
    return this.#sequence.error({
      ...errorNumber(failure, server),
      message: redactToken(failure.text, token),
    });
  }
}

function errorNumber(
  failure: ProxyFailure,
  server: MysqlErrorFields | undefined,
): { readonly code: number; readonly sqlState: string } {
  if (failure.code === "UPSTREAM_REFUSED" && server) {
    return { code: server.code, sqlState: server.sqlState ?? "HY000" };
  }
  if (failure.code === "UPSTREAM_UNREACHABLE") return { code: 2013, sqlState: "HY000" };
  return { code: 1045, sqlState: "28000" };
}

/** The ERR a client gets instead of a greeting (sequence 0); before the handshake it carries no SQLSTATE. */
function greetingErrorPacket(failure: ProxyFailure, server?: MysqlErrorFields): Buffer {
  return buildPacket(0, buildErrorPacket({ code: errorNumber(failure, server).code, message: failure.text }));
}

/** 20 printable bytes, as servers scramble: no NUL, which would end the scramble early. */
function scramble(): Buffer {
  return Buffer.from(randomBytes(20).map((byte) => 0x21 + (byte % 94)));
}

/** The socket error under the backend session's wrapping (`connect ECONNREFUSED ...`), for the client's message. */
function rootCause(error: unknown): unknown {
  let cause = error;
  while (cause instanceof Error && !isEntraAuthError(cause) && cause.cause instanceof Error) {
    cause = cause.cause;
  }
  return cause;
}

import { connect, type Socket } from "node:net";
import {
  buildAuthenticationCleartextPassword,
  buildAuthenticationOk,
  buildErrorResponse,
  buildRequestPacket,
  type GatewayBackendLogin,
  type GatewayProtocol,
  type GatewaySession,
  loginToBackend,
  type PgClientStartup,
  PgFrameReader,
  parseErrorFields,
  readPgClientStartup,
  readPgPasswordMessage,
} from "@org/entra-wire";
import type { ProxyContext, ProxyEngineProtocol, ProxyRefusalReason } from "./proxy-engine.js";
import type { ProxyFailure } from "./proxy-failure.js";
import { connectVerifiedTls, refuseInsecureUpstream } from "./upstream-tls.js";

/** SQLSTATE of each refusal of the proxy's own: invalid password, too many connections, admin shutdown. */
const REFUSAL_SQLSTATE: Readonly<Record<ProxyRefusalReason, string>> = {
  LOCAL_PASSWORD: "28P01",
  TOO_MANY_CONNECTIONS: "53300",
  SHUTTING_DOWN: "57P01",
};

/** The PostgreSQL side of `entra-db proxy`. */
export const pgProxyProtocol: ProxyEngineProtocol = {
  pauseOnConnect: false,
  create: (session, context) => new PgProxyLogin(session, context),
};

/**
 * Opens a connection to the upstream server and takes it over to verified TLS with an SSLRequest
 * (Azure Database for PostgreSQL refuses plaintext). A server that answers anything but `S` gets
 * nothing more.
 */
async function connectUpstream(context: ProxyContext, signal: AbortSignal): Promise<Socket> {
  const { host, port } = context.upstream;
  const raw = connect({ host, port, noDelay: true });
  try {
    const answer = await new Promise<Buffer>((resolve, reject) => {
      const onData = (chunk: Buffer) => {
        cleanup();
        resolve(chunk);
      };
      const onError = (error: Error) => {
        cleanup();
        reject(error);
      };
      const onClose = () => onError(new Error("the server closed the connection"));
      const onAbort = () => onError(new Error("the login timed out or was cancelled"));
      const cleanup = () => {
        raw.off("data", onData);
        raw.off("error", onError);
        raw.off("close", onClose);
        signal.removeEventListener("abort", onAbort);
      };
      if (signal.aborted) return onAbort();
      signal.addEventListener("abort", onAbort, { once: true });
      raw.on("data", onData);
      raw.on("error", onError);
      raw.on("close", onClose);
      raw.on("connect", () => raw.write(buildRequestPacket({ kind: "ssl-request" })));
    });
    // Exactly one byte: more would be plaintext injected before the handshake.
    if (answer.length !== 1 || answer[0] !== 0x53) {
      refuseInsecureUpstream({
        setting: "connection",
        subject: `The server at ${host}:${port}`,
        problem: "did not accept TLS, so the token would travel in clear",
        fix: "Azure Database for PostgreSQL always offers TLS: check the host and port.",
      });
    }
    raw.pause();
    return await connectVerifiedTls({ host, port, ca: context.ca, signal }, raw);
  } catch (error) {
    raw.destroy();
    throw error;
  }
}

/**
 * One local PostgreSQL client of the proxy: its startup packets (SSLRequest, GSSENCRequest,
 * CancelRequest, StartupMessage), the local password when one is required, then the upstream login
 * with a token over verified TLS, whose session-start messages (ParameterStatus, BackendKeyData,
 * ReadyForQuery) the client receives after AuthenticationOk before bytes are relayed.
 */
class PgProxyLogin implements GatewayProtocol<ProxyRefusalReason> {
  readonly reader = new PgFrameReader();
  readonly #session: GatewaySession<ProxyRefusalReason>;
  readonly #context: ProxyContext;
  #user = "";
  #database = "";
  #parameters: Array<readonly [string, string]> = [];

  constructor(session: GatewaySession<ProxyRefusalReason>, context: ProxyContext) {
    this.#session = session;
    this.#context = context;
    session.listen();
  }

  get user(): string {
    return this.#user;
  }

  readNext(): boolean {
    return this.#session.phase === "startup" ? this.#readStartupPacket() : this.#readPasswordMessage();
  }

  refusal(reason: ProxyRefusalReason): Buffer {
    return errorResponse(this.#context.localRefusal(reason), REFUSAL_SQLSTATE[reason]);
  }

  async openBackendSession(_user: string, signal: AbortSignal): Promise<GatewayBackendLogin> {
    const context = this.#context;
    let token: string | undefined;
    let socket: Socket | undefined;
    try {
      const credentials = await context.credentials(signal);
      token = credentials.token;
      socket = await connectUpstream(context, signal);
      const login = await loginToBackend({
        host: context.upstream.host,
        port: context.upstream.port,
        socket,
        password: token,
        user: credentials.user,
        database: this.#database,
        parameters: this.#parameters,
        signal,
      });
      if (login.ok) {
        return {
          ok: true,
          socket: login.socket,
          reply: Buffer.concat([buildAuthenticationOk(), login.sessionStartBytes]),
        };
      }
      const fields = parseErrorFields(login.errorResponse.subarray(5));
      const failure = context.upstreamFailure(undefined, {
        token,
        serverMessage: fields.get("M") ?? "",
        serverCode: fields.get("C"),
      });
      return { ok: false, refusal: errorResponse(failure, fields.get("C") ?? "08006") };
    } catch (error) {
      socket?.destroy();
      const failure = context.upstreamFailure(error, { token });
      return {
        ok: false,
        refusal: errorResponse(failure, failure.code === "UPSTREAM_UNREACHABLE" ? "08001" : "28000"),
      };
    }
  }

  #readStartupPacket(): boolean {
    return readPgClientStartup(this.#session, this.reader, {
      offerTls: this.#context.localTls,
      cancel: (bytes) => this.#forwardCancel(bytes),
      startup: (startup) => this.#startLogin(startup),
    });
  }

  /**
   * Relays a CancelRequest to the upstream server on a verified TLS connection of its own: its
   * process id and secret key came from the upstream session, so the server finds that session.
   */
  #forwardCancel(bytes: Buffer): void {
    const session = this.#session;
    const signal = AbortSignal.timeout(10_000);
    session.end();
    connectUpstream(this.#context, signal).then(
      (upstream) => {
        // The server closes the connection once it has read the request; ending first could drop it.
        const timer = setTimeout(() => upstream.destroy(), 10_000).unref();
        upstream.on("error", () => upstream.destroy());
        upstream.on("close", () => clearTimeout(timer));
        upstream.on("end", () => upstream.destroy());
        upstream.resume();
        upstream.write(Buffer.from(bytes));
      },
      () => {},
    );
  }

  #startLogin(startup: PgClientStartup): void {
    const session = this.#session;
    this.#user = startup.user;
    this.#database = startup.database ?? this.#context.target.database ?? startup.user;
    this.#parameters = [...startup.parameters];
    if (this.#context.localPasswordRequired) {
      session.awaitToken();
      session.client.write(buildAuthenticationCleartextPassword());
      return;
    }
    session.authorize("", { user: this.#user, database: this.#database });
  }

  #readPasswordMessage(): boolean {
    return readPgPasswordMessage(this.#session, this.reader, { user: this.#user, database: this.#database });
  }
}

function errorResponse(failure: ProxyFailure, sqlState: string): Buffer {
  return buildErrorResponse({ severity: "FATAL", code: sqlState, message: failure.text });
}

import { connect, type Socket } from "node:net";
import {
  buildHandshakeResponse,
  buildPacket,
  buildSslRequest,
  computeCachingSha2Response,
  computeNativePasswordResponse,
  encryptPasswordWithPublicKey,
  MysqlCapability,
  type MysqlErrorFields,
  type MysqlHandshake,
  type MysqlPacket,
  MysqlPacketReader,
  parseAuthPacket,
  parseErrorPacket,
  parseHandshake,
} from "./mysql-packets.js";

/** Largest backend packet accepted during login (greeting, auth switch, public key, OK/ERR). */
const MAX_BACKEND_LOGIN_PACKET_LENGTH = 1024 * 1024;

/** An error raised while talking to the backend; `fields` is what the client should see. */
export class MysqlBackendError extends Error {
  /** Always `"MysqlBackendError"`. */
  override readonly name = "MysqlBackendError";
  constructor(
    /** The ERR fields to send the client: the backend's own ERR, or one describing the failure. */
    readonly fields: MysqlErrorFields,
  ) {
    super(fields.message);
  }
}

/**
 * A session to the backend whose greeting has been read and which is not logged in yet: plain TCP,
 * or TLS after {@link MysqlBackendSession.startTls}.
 */
export class MysqlBackendSession {
  readonly #reader = new MysqlPacketReader(MAX_BACKEND_LOGIN_PACKET_LENGTH + 4);
  readonly #waiters: Array<{ resolve(packet: MysqlPacket): void; reject(error: Error): void }> = [];
  readonly #raw: Socket;
  #socket: Socket;
  #tls = false;
  #failure: Error | undefined;
  #detached = false;
  #greeting: MysqlHandshake | undefined;
  readonly #onData = (chunk: Buffer) => {
    try {
      this.#reader.push(chunk);
      this.#drain();
    } catch (error) {
      this.#fail(error as Error);
    }
  };
  readonly #onError = (error: Error) =>
    this.#fail(new Error(`backend connection failed: ${error.message}`, { cause: error }));
  readonly #onClose = () => this.#fail(new Error("the backend closed the connection during login"));

  /** Wraps a connecting socket; the greeting is read by {@link openMysqlBackend}. */
  constructor(socket: Socket) {
    this.#raw = socket;
    this.#socket = socket;
    this.#listen(socket);
  }

  /** The socket the session reads and writes: the TCP one, or its TLS socket after {@link MysqlBackendSession.startTls}. */
  get socket(): Socket {
    return this.#socket;
  }

  /** True once {@link MysqlBackendSession.startTls} has taken the session over to TLS. */
  get tls(): boolean {
    return this.#tls;
  }

  /** The backend's greeting. Throws before {@link openMysqlBackend} has read it. */
  get greeting(): MysqlHandshake {
    if (this.#greeting === undefined) throw new Error("greeting not read yet");
    return this.#greeting;
  }

  /** Reads and parses the greeting (sequence 0); an ERR instead (e.g. too many connections) throws. */
  async readGreeting(): Promise<MysqlHandshake> {
    const packet = await this.nextPacket();
    if (packet.payload[0] === 0xff) throw new MysqlBackendError(parseErrorPacket(packet.payload));
    this.#greeting = parseHandshake(packet.payload);
    return this.#greeting;
  }

  /** Resolves with the next packet; rejects once the socket failed, closed or sent garbage. */
  nextPacket(): Promise<MysqlPacket> {
    return new Promise((resolve, reject) => {
      if (this.#failure) return reject(this.#failure);
      this.#waiters.push({ resolve, reject });
      try {
        this.#drain();
      } catch (error) {
        this.#fail(error as Error);
      }
    });
  }

  /** Sends one packet. */
  write(sequenceId: number, payload: Buffer): void {
    this.#socket.write(buildPacket(sequenceId, payload));
  }

  /**
   * Sends an SSLRequest (sequence 1) with the capabilities {@link authenticateMysqlBackend} will
   * send for `credentials`, then lets `upgrade` take the TCP socket over to TLS (and verify the
   * server) and continues the session on the socket it resolves with. Nothing of `credentials`'
   * password is sent. Rejects with `upgrade`'s error (the session is destroyed) or with a
   * {@link MysqlBackendError} when the greeting offers no `CLIENT_SSL` or the backend sent bytes
   * after it; the login then continues with {@link authenticateMysqlBackend}, which answers with
   * sequence 2 and `CLIENT_SSL`.
   *
   * @example
   * await session.startTls(credentials, (raw) => connectVerifiedTls({ host, port, signal }, raw));
   * const login = await authenticateMysqlBackend(session, credentials);
   */
  async startTls(
    credentials: MysqlBackendCredentials,
    upgrade: (raw: Socket) => Promise<Socket>,
  ): Promise<void> {
    const onAbort = () => this.destroy(new Error("login to the backend was aborted"));
    try {
      if (this.#tls) throw new Error("the backend session is already on TLS");
      if (this.#failure) throw this.#failure;
      const greeting = this.greeting;
      if (!(greeting.capabilities & MysqlCapability.ssl)) {
        throw new MysqlBackendError({ code: 2026, sqlState: "HY000", message: "the backend offers no TLS" });
      }
      // Bytes after the greeting but before the handshake would be unencrypted injected data.
      if (this.#reader.bufferedLength > 0) throw new Error("the backend sent data before TLS");
      if (credentials.signal?.aborted) throw new Error("login to the backend was aborted");
      credentials.signal?.addEventListener("abort", onAbort, { once: true });
      const raw = this.#socket;
      raw.write(
        buildPacket(
          1,
          buildSslRequest({
            capabilities: loginCapabilities(greeting, credentials),
            extendedCapabilities: credentials.extendedCapabilities ?? 0,
            maxPacketSize: credentials.maxPacketSize ?? DEFAULT_MAX_PACKET_SIZE,
            characterSet: credentials.characterSet ?? greeting.characterSet,
          }),
        ),
      );
      raw.off("data", this.#onData);
      raw.pause();
      const secure = await upgrade(raw);
      if (this.#failure) {
        secure.destroy();
        throw this.#failure;
      }
      raw.off("error", this.#onError);
      raw.off("close", this.#onClose);
      raw.on("error", () => {});
      this.#socket = secure;
      this.#tls = true;
      this.#listen(secure);
    } catch (error) {
      this.destroy();
      throw error;
    } finally {
      credentials.signal?.removeEventListener("abort", onAbort);
    }
  }

  /** Destroys the socket (and the TCP socket under TLS). */
  destroy(reason: Error = new Error("backend session destroyed")): void {
    this.#fail(reason);
    this.#socket.destroy();
    this.#raw.destroy();
  }

  /**
   * Stops reading for login: the socket is paused, the login listeners are removed (an error
   * listener that ignores errors stays) and unread bytes are pushed back for the next reader.
   */
  detach(): Socket {
    const socket = this.#socket;
    this.#detached = true;
    socket.pause();
    socket.off("data", this.#onData);
    socket.off("error", this.#onError);
    socket.off("close", this.#onClose);
    socket.on("error", () => {});
    const remainder = this.#reader.takeRemainder();
    if (remainder.length > 0) socket.unshift(remainder);
    return socket;
  }

  #listen(socket: Socket): void {
    socket.on("data", this.#onData);
    socket.on("error", this.#onError);
    socket.on("close", this.#onClose);
  }

  #drain(): void {
    while (this.#waiters.length > 0) {
      const packet = this.#reader.readPacket(MAX_BACKEND_LOGIN_PACKET_LENGTH);
      if (packet === undefined) return;
      this.#waiters.shift()?.resolve({ ...packet, payload: Buffer.from(packet.payload) });
    }
  }

  #fail(error: Error): void {
    if (this.#detached) return;
    this.#failure ??= error;
    for (const waiter of this.#waiters.splice(0)) waiter.reject(this.#failure);
  }
}

/** Where {@link openMysqlBackend} connects. */
export interface MysqlBackendAddress {
  /** The backend's host name or IP address. */
  readonly host: string;
  /** The backend's TCP port, e.g. 3306. */
  readonly port: number;
  /** Aborting destroys the socket. */
  readonly signal?: AbortSignal;
}

/** Connects to the backend and reads its greeting. Rejects with a {@link MysqlBackendError}. */
export async function openMysqlBackend(address: MysqlBackendAddress): Promise<MysqlBackendSession> {
  const socket = connect({ host: address.host, port: address.port, noDelay: true });
  const session = new MysqlBackendSession(socket);
  const onAbort = () => session.destroy(new Error("login to the backend was aborted"));
  if (address.signal?.aborted) onAbort();
  address.signal?.addEventListener("abort", onAbort, { once: true });
  try {
    await session.readGreeting();
    return session;
  } catch (error) {
    session.destroy();
    throw asBackendError(error, `could not reach the backend at ${address.host}:${address.port}`);
  } finally {
    address.signal?.removeEventListener("abort", onAbort);
  }
}

/** As whom and how {@link authenticateMysqlBackend} logs in. */
export interface MysqlBackendCredentials {
  /** The backend user to log in as. */
  readonly user: string;
  /** Password for `mysql_native_password`, `caching_sha2_password` or `mysql_clear_password`. Defaults to empty. */
  readonly password?: string;
  /** Default schema. */
  readonly database?: string;
  /** Lower 32 capability bits (the client's); SSL (set after {@link MysqlBackendSession.startTls}) and compression are removed. */
  readonly capabilities: number;
  /** MariaDB extended capabilities (the client's). Defaults to 0. */
  readonly extendedCapabilities?: number;
  /** Largest packet the client accepts. Defaults to 16 MiB. */
  readonly maxPacketSize?: number;
  /** Collation id. Defaults to the greeting's. */
  readonly characterSet?: number;
  /** Connection attributes, sent when the backend supports them. */
  readonly connectAttributes?: ReadonlyArray<readonly [string, string]>;
  /** Aborting destroys the session. */
  readonly signal?: AbortSignal;
  /**
   * Send the password only in answer to an AuthSwitch to `mysql_clear_password`: the first
   * response is empty, and any other plugin (or an RSA key exchange) fails the login instead of
   * getting a hash or encryption of it. For a password that must reach no one else in any form,
   * such as an access token on a verified TLS session. Defaults to false.
   */
  readonly clearPasswordOnly?: boolean;
}

/** Outcome of {@link authenticateMysqlBackend}. */
export type MysqlBackendLoginResult =
  | {
      /** The login succeeded. */
      readonly ok: true;
      /** The backend's OK packet payload, for the client. */
      readonly okPayload: Buffer;
    }
  | {
      /** The login failed; the session is destroyed. */
      readonly ok: false;
      /** The backend's ERR, or one describing the failure. */
      readonly error: MysqlErrorFields;
      /**
       * What failed when it was not the backend's answer: the socket error, the abort or the
       * malformed packet. Absent when the backend refused (its ERR is in `error`).
       */
      readonly cause?: unknown;
    };

/**
 * Sends a HandshakeResponse41 on an opened session (sequence 2 with `CLIENT_SSL` after
 * {@link MysqlBackendSession.startTls}, else 1) and completes authentication:
 * `mysql_native_password`, `caching_sha2_password` (fast path, or full auth with the server's RSA key)
 * and `mysql_clear_password`, including AuthSwitch. Never rejects; on failure the session is destroyed.
 */
export async function authenticateMysqlBackend(
  session: MysqlBackendSession,
  credentials: MysqlBackendCredentials,
): Promise<MysqlBackendLoginResult> {
  const onAbort = () => session.destroy(new Error("login to the backend was aborted"));
  if (credentials.signal?.aborted) onAbort();
  credentials.signal?.addEventListener("abort", onAbort, { once: true });
  try {
    return { ok: true, okPayload: await authenticate(session, credentials) };
  } catch (error) {
    session.destroy();
    const backendError = asBackendError(error, "backend login failed");
    return backendError.cause === undefined
      ? { ok: false, error: backendError.fields }
      : { ok: false, error: backendError.fields, cause: backendError.cause };
  } finally {
    credentials.signal?.removeEventListener("abort", onAbort);
  }
}

/** Client bits never copied to the backend login: set by this login's own fields and TLS, or never offered. */
const CAPABILITIES_DECIDED_PER_LOGIN =
  MysqlCapability.ssl |
  MysqlCapability.compress |
  MysqlCapability.zstdCompression |
  MysqlCapability.queryAttributes |
  MysqlCapability.sslVerifyServerCert |
  MysqlCapability.connectWithDb |
  MysqlCapability.connectAttrs;

const DEFAULT_MAX_PACKET_SIZE = 16 * 1024 * 1024;

/** The capability bits of this login's SSLRequest and HandshakeResponse41. */
function loginCapabilities(greeting: MysqlHandshake, credentials: MysqlBackendCredentials): number {
  let capabilities =
    ((credentials.capabilities & ~CAPABILITIES_DECIDED_PER_LOGIN) |
      MysqlCapability.protocol41 |
      MysqlCapability.secureConnection |
      MysqlCapability.pluginAuth) >>>
    0;
  if (credentials.database) capabilities |= MysqlCapability.connectWithDb;
  const attributes = credentials.connectAttributes ?? [];
  if (attributes.length > 0 && greeting.capabilities & MysqlCapability.connectAttrs) {
    capabilities |= MysqlCapability.connectAttrs;
  }
  if (!(greeting.capabilities & MysqlCapability.pluginAuthLenencClientData)) {
    capabilities &= ~MysqlCapability.pluginAuthLenencClientData;
  }
  return capabilities >>> 0;
}

async function authenticate(
  session: MysqlBackendSession,
  credentials: MysqlBackendCredentials,
): Promise<Buffer> {
  const greeting = session.greeting;
  const password = credentials.password ?? "";
  const clearOnly = credentials.clearPasswordOnly ?? false;
  let scramble = greeting.authPluginData;
  let plugin = greeting.authPluginName || "mysql_native_password";
  let capabilities = loginCapabilities(greeting, credentials);
  // After an SSLRequest (sequence 1) the response repeats CLIENT_SSL and carries sequence 2.
  if (session.tls) capabilities |= MysqlCapability.ssl;
  const attributes = credentials.connectAttributes ?? [];
  const clearOnlyRefusal = (name: string) =>
    new MysqlBackendError({
      code: 1251,
      sqlState: "08004",
      message: `the backend asked for the authentication plugin "${name}"; the password is only sent with mysql_clear_password`,
    });
  const respond = (name: string): Buffer => {
    if (clearOnly && name !== "mysql_clear_password") throw clearOnlyRefusal(name);
    if (name === "mysql_native_password") return computeNativePasswordResponse(password, scramble);
    if (name === "caching_sha2_password") return computeCachingSha2Response(password, scramble);
    if (name === "mysql_clear_password") return Buffer.from(`${password}\0`, "utf8");
    throw new MysqlBackendError({
      code: 1251,
      sqlState: "08004",
      message: `the backend asked for the unsupported authentication plugin "${name}"`,
    });
  };
  const initialPlugin = ["mysql_native_password", "caching_sha2_password"].includes(plugin)
    ? plugin
    : "mysql_native_password";
  plugin = initialPlugin;
  session.write(
    session.tls ? 2 : 1,
    buildHandshakeResponse({
      capabilities: capabilities >>> 0,
      extendedCapabilities: credentials.extendedCapabilities ?? 0,
      maxPacketSize: credentials.maxPacketSize ?? DEFAULT_MAX_PACKET_SIZE,
      characterSet: credentials.characterSet ?? greeting.characterSet,
      user: credentials.user,
      authResponse: clearOnly ? Buffer.alloc(0) : respond(plugin),
      database: credentials.database ?? "",
      authPluginName: plugin,
      connectAttributes: attributes,
    }),
  );
  for (let step = 0; step < 8; step += 1) {
    const packet = await session.nextPacket();
    const next = (packet.sequenceId + 1) & 0xff;
    const message = parseAuthPacket(packet.payload);
    switch (message.kind) {
      case "ok":
        return packet.payload;
      case "error":
        throw new MysqlBackendError(message.error);
      case "auth-switch":
        plugin = message.pluginName;
        if (message.pluginData.length > 0) scramble = message.pluginData;
        session.write(next, respond(plugin));
        break;
      case "more-data":
        if (plugin !== "caching_sha2_password") throw new Error(`unexpected AuthMoreData for ${plugin}`);
        if (message.data[0] === 0x03 && message.data.length === 1) break; // fast auth succeeded; OK follows
        if (clearOnly) throw clearOnlyRefusal(plugin);
        if (message.data[0] === 0x04 && message.data.length === 1) {
          session.write(next, Buffer.from([0x02])); // request the server's RSA public key
          break;
        }
        session.write(
          next,
          encryptPasswordWithPublicKey(password, scramble, message.data.toString("latin1")),
        );
        break;
    }
  }
  throw new Error("the backend did not finish authentication");
}

function asBackendError(error: unknown, context: string): MysqlBackendError {
  if (error instanceof MysqlBackendError) return error;
  const backendError = new MysqlBackendError({
    code: 1105,
    sqlState: "HY000",
    message: `${context}: ${error instanceof Error ? error.message : String(error)}`,
  });
  // Keeps the socket error (its `code`, e.g. ECONNREFUSED) for whoever explains the failure.
  backendError.cause = error;
  return backendError;
}

import { connect, type Socket } from "node:net";
import {
  buildHandshakeResponse,
  buildPacket,
  buildQueryCommand,
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
  override readonly name = "MysqlBackendError";
  constructor(readonly fields: MysqlErrorFields) {
    super(fields.message);
  }
}

/** A plain TCP session to the backend whose greeting has been read and which is not logged in yet. */
export class MysqlBackendSession {
  readonly #reader = new MysqlPacketReader(MAX_BACKEND_LOGIN_PACKET_LENGTH + 4);
  readonly #waiters: Array<{ resolve(packet: MysqlPacket): void; reject(error: Error): void }> = [];
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
  constructor(readonly socket: Socket) {
    socket.on("data", this.#onData);
    socket.on("error", this.#onError);
    socket.on("close", this.#onClose);
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
    this.socket.write(buildPacket(sequenceId, payload));
  }

  /** Destroys the socket. */
  destroy(reason: Error = new Error("backend session destroyed")): void {
    this.#fail(reason);
    this.socket.destroy();
  }

  /**
   * Stops reading for login: the socket is paused, the login listeners are removed (an error
   * listener that ignores errors stays) and unread bytes are pushed back for the next reader.
   */
  detach(): Socket {
    this.#detached = true;
    this.socket.pause();
    this.socket.off("data", this.#onData);
    this.socket.off("error", this.#onError);
    this.socket.off("close", this.#onClose);
    this.socket.on("error", () => {});
    const remainder = this.#reader.takeRemainder();
    if (remainder.length > 0) this.socket.unshift(remainder);
    return this.socket;
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
  readonly host: string;
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
  readonly user: string;
  /** Password for `mysql_native_password`, `caching_sha2_password` or `mysql_clear_password`. Defaults to empty. */
  readonly password?: string;
  /** Default schema. */
  readonly database?: string;
  /** Lower 32 capability bits (the client's); SSL and compression are removed. */
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
}

/** Outcome of {@link authenticateMysqlBackend}. */
export type MysqlBackendLoginResult =
  | {
      readonly ok: true;
      /** The backend's OK packet payload, for the client. */
      readonly okPayload: Buffer;
    }
  | {
      readonly ok: false;
      /** The backend's ERR, or one describing the failure. */
      readonly error: MysqlErrorFields;
    };

/**
 * Sends a HandshakeResponse41 on an opened session and completes authentication:
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
    return { ok: false, error: asBackendError(error, "backend login failed").fields };
  } finally {
    credentials.signal?.removeEventListener("abort", onAbort);
  }
}

/** Client bits never passed to the plaintext backend session, or set from this login's own fields. */
const CAPABILITIES_DECIDED_PER_LOGIN =
  MysqlCapability.ssl |
  MysqlCapability.compress |
  MysqlCapability.zstdCompression |
  MysqlCapability.queryAttributes |
  MysqlCapability.sslVerifyServerCert |
  MysqlCapability.connectWithDb |
  MysqlCapability.connectAttrs;

async function authenticate(
  session: MysqlBackendSession,
  credentials: MysqlBackendCredentials,
): Promise<Buffer> {
  const greeting = session.greeting;
  const password = credentials.password ?? "";
  let scramble = greeting.authPluginData;
  let plugin = greeting.authPluginName || "mysql_native_password";
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
  const respond = (name: string): Buffer => {
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
    1,
    buildHandshakeResponse({
      capabilities: capabilities >>> 0,
      extendedCapabilities: credentials.extendedCapabilities ?? 0,
      maxPacketSize: credentials.maxPacketSize ?? 16 * 1024 * 1024,
      characterSet: credentials.characterSet ?? greeting.characterSet,
      user: credentials.user,
      authResponse: respond(plugin),
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

/** Where and as whom {@link runMysqlAdminStatements} connects. */
export interface MysqlAdminConnection {
  readonly host: string;
  readonly port: number;
  readonly user: string;
  /** Password of `user`. Defaults to empty. */
  readonly password?: string;
  /** Gives up after this long. Defaults to 10 000. */
  readonly timeoutInMs?: number;
}

/**
 * Logs in to a MySQL/MariaDB server and runs statements that return OK (DDL, GRANT) one by one.
 * Rejects with the server's error (`errno`, `sqlState`) on the first failure.
 */
export async function runMysqlAdminStatements(
  connection: MysqlAdminConnection,
  statements: readonly string[],
): Promise<void> {
  const signal = AbortSignal.timeout(connection.timeoutInMs ?? 10_000);
  let session: MysqlBackendSession;
  try {
    session = await openMysqlBackend({ host: connection.host, port: connection.port, signal });
  } catch (error) {
    throw toAdminError((error as MysqlBackendError).fields, undefined, error);
  }
  const onAbort = () => session.destroy(new Error("timed out"));
  signal.addEventListener("abort", onAbort, { once: true });
  try {
    const login = await authenticateMysqlBackend(session, {
      user: connection.user,
      password: connection.password,
      capabilities:
        MysqlCapability.longPassword |
        MysqlCapability.longFlag |
        MysqlCapability.protocol41 |
        MysqlCapability.transactions |
        MysqlCapability.secureConnection |
        MysqlCapability.multiResults |
        MysqlCapability.pluginAuth,
      signal,
    });
    if (!login.ok) throw toAdminError(login.error);
    for (const sql of statements) {
      session.write(0, buildQueryCommand(sql));
      const reply = await session.nextPacket().catch((error: Error) => {
        throw new Error(`MySQL admin connection failed during "${sql}": ${error.message}`);
      });
      if (reply.payload[0] === 0xff) throw toAdminError(parseErrorPacket(reply.payload), sql);
      if (reply.payload[0] !== 0x00) throw new Error(`"${sql}" returned a result set; expected OK`);
    }
    session.write(0, Buffer.from([0x01])); // COM_QUIT
  } finally {
    signal.removeEventListener("abort", onAbort);
    session.destroy();
  }
}

function toAdminError(fields: MysqlErrorFields, sql?: string, cause?: unknown): Error {
  const message = sql ? `${fields.message} (in "${sql}")` : fields.message;
  const error = new Error(message, cause === undefined ? undefined : { cause }) as Error & {
    errno?: number;
    sqlState?: string;
  };
  error.errno = fields.code;
  error.sqlState = fields.sqlState;
  return error;
}

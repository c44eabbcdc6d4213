import type { Duplex } from "node:stream";
import {
  assertSecureTls,
  EntraAuthError,
  type EntraTarget,
  holdTokenProvider,
  inspectTlsPeer,
  reactToServerRejection,
} from "@org/entra-core";

/** One physical connection the adapter's socket opened, from its TLS handshake to its close. */
export interface SigningInConnection {
  /** The socket postgres.js reads and writes: the verified TLS socket (plaintext only with `allowInsecure`). */
  readonly socket: Duplex;
  /** Whether the password hook checks the live TLS peer again before it hands out a token. */
  readonly verify: boolean;
  /** The name the server certificate must carry: the TLS `servername`, else the host connected to. */
  readonly serverName: string | undefined;
  /** The user name the startup message carries, for the hint of a refused login. */
  readonly user: string | undefined;
}

/** What the adapter keeps per connection: the token it handed out and the hold that token took. */
interface ConnectionState extends SigningInConnection {
  token: string | undefined;
  release: (() => void) | undefined;
  closed: boolean;
}

/**
 * The connection whose server message postgres.js is handling right now. postgres.js calls the
 * password hook without saying for which connection, but always synchronously from the `data`
 * event that carried the server's password request: the startup watcher sets this around each
 * such event, so the hook knows which socket the token is about to be written to.
 */
let handling: ConnectionState | undefined;

const AUTHENTICATION = 0x52; // 'R'
const ERROR_RESPONSE = 0x45; // 'E'

/**
 * Starts watching a connection's sign-in: from now until the server's AuthenticationOk or
 * ErrorResponse, every chunk postgres.js receives passes through the watcher, which lets the
 * password hook know the connection (see {@link createPasswordHook}) and turns the server's refusal
 * of a token into the error postgres.js raises with the reason and what to change appended (the
 * message bytes are rewritten, since postgres.js gives no other access to that error), dropping
 * an expired or invalid token from the provider. The hold on the provider ends when the socket
 * closes (`sql.end()`, idle or lifetime timeouts, a refused login, a network error).
 */
export function watchSignIn(connection: SigningInConnection, target: EntraTarget): void {
  const state: ConnectionState = { ...connection, token: undefined, release: undefined, closed: false };
  const socket = connection.socket;
  socket.once("close", () => {
    state.closed = true;
    state.release?.();
  });
  const emit = socket.emit;
  let pending: Buffer = Buffer.alloc(0);
  // Only during sign-in; removing the own property restores the socket's own `emit`.
  const stop = () => Reflect.deleteProperty(socket, "emit");
  socket.emit = function watchedEmit(this: Duplex, event: string | symbol, ...args: unknown[]): boolean {
    const chunk = args[0];
    if (event !== "data" || !Buffer.isBuffer(chunk)) return emit.call(this, event, ...args);
    pending = pending.length === 0 ? chunk : Buffer.concat([pending, chunk]);
    const messages: Buffer[] = [];
    let signedIn = false;
    while (!signedIn && pending.length >= 5) {
      const end = 1 + pending.readUInt32BE(1);
      if (pending.length < end) break;
      let message = pending.subarray(0, end);
      pending = pending.subarray(end);
      if (message[0] === ERROR_RESPONSE) {
        message = explainRefusal(message, state, target);
        signedIn = true;
      } else if (message[0] === AUTHENTICATION && message.length >= 9 && message.readUInt32BE(5) === 0) {
        signedIn = true;
      }
      messages.push(message);
    }
    if (signedIn) {
      messages.push(pending);
      pending = Buffer.alloc(0);
      stop();
    }
    // Complete messages only: postgres.js cannot act on part of one anyway.
    const complete = messages.length === 1 ? (messages[0] as Buffer) : Buffer.concat(messages);
    if (complete.length === 0) return true;
    const previous = handling;
    handling = state;
    try {
      return emit.call(this, "data", complete);
    } finally {
      handling = previous;
    }
  };
}

/**
 * The `password` function postgres.js calls when a server asks for one: checks the live TLS
 * connection (encrypted, chain verified, certificate issued for the host) and hands out the shared
 * provider's current token, holding the provider until the connection closes. It never rejects for
 * a connection of the adapter's socket: postgres.js does not catch a rejected password (it would
 * be an unhandled rejection), so a failure (unverified peer, no token) destroys that connection
 * with the `EntraAuthError` instead, which postgres.js reports as the query's error, and no
 * password is written. Called for a connection the adapter did not open (the `socket` withEntra
 * returned was replaced), it rejects with `INSECURE_TRANSPORT` and hands out nothing.
 */
export function createPasswordHook(target: EntraTarget): () => Promise<string> {
  return function password(): Promise<string> {
    const connection = handling;
    if (!connection) {
      return Promise.reject(
        new EntraAuthError(
          "INSECURE_TRANSPORT",
          "The connection asking for a token was not opened by @org/postgres-entra, so its TLS was not verified.",
          {
            hint: "Give postgres.js the options withEntra returns, with their own socket and ssl: put ssl, socket and host inside withEntra(...), not after it.",
          },
        ),
      );
    }
    if (connection.verify) {
      try {
        assertSecureTls(inspectTlsPeer(connection.socket, connection.serverName));
      } catch (error) {
        return fail(connection, error);
      }
    }
    return target.provider.getToken().then(
      ({ token }) => {
        // A connection that ended meanwhile gets nothing: postgres.js would write to its successor.
        if (connection.closed) return unanswered();
        connection.token = token;
        // One hold per connection (a second password request on it adds none).
        connection.release ??= holdTokenProvider(target.provider, connection.socket);
        return token;
      },
      (error: unknown) => fail(connection, error),
    );
  };
}

/** Ends a connection with `error` (postgres.js rejects its query with it) and writes no password. */
function fail(connection: ConnectionState, error: unknown): Promise<never> {
  connection.socket.destroy(error instanceof Error ? error : new Error(String(error)));
  return unanswered();
}

/** A promise that never settles: postgres.js then writes nothing (a fresh one each time, so nothing piles up on it). */
function unanswered(): Promise<never> {
  return new Promise<never>(() => {});
}

/**
 * The ErrorResponse with core's reaction applied: an expired or invalid token is dropped, and a
 * known refusal gets `[@org/postgres-entra <CODE>] <what to change>` appended to its message.
 */
function explainRefusal(message: Buffer, connection: ConnectionState, target: EntraTarget): Buffer {
  const fields = readErrorFields(message);
  const text = fields.find(([code]) => code === "M");
  if (!text) return message;
  const error = new Error(text[1]);
  const described = reactToServerRejection(error, {
    engine: "postgresql",
    adapter: "@org/postgres-entra",
    serverCode: fields.find(([code]) => code === "C")?.[1],
    token: connection.token,
    user: connection.user,
    // Only a token this connection sent can be the one refused.
    provider: connection.token === undefined ? undefined : target.provider,
  });
  if (!described) return message;
  text[1] = error.message;
  return writeErrorFields(fields);
}

/** The fields of an ErrorResponse (`E`, length, then code byte + NUL-terminated text, then NUL). */
function readErrorFields(message: Buffer): [string, string][] {
  const fields: [string, string][] = [];
  let index = 5;
  while (index < message.length && message[index] !== 0) {
    const code = String.fromCharCode(message[index] as number);
    const end = message.indexOf(0, index + 1);
    if (end === -1) break;
    fields.push([code, message.toString("utf8", index + 1, end)]);
    index = end + 1;
  }
  return fields;
}

function writeErrorFields(fields: readonly [string, string][]): Buffer {
  const body = Buffer.concat([
    ...fields.map(([code, text]) => Buffer.from(`${code}${text}\0`, "utf8")),
    Buffer.from([0]),
  ]);
  const header = Buffer.alloc(5);
  header[0] = ERROR_RESPONSE;
  header.writeUInt32BE(body.length + 4, 1);
  return Buffer.concat([header, body]);
}

import { randomBytes } from "node:crypto";
import { connect, type Socket } from "node:net";
import {
  buildErrorResponse,
  buildPasswordMessage,
  buildSaslInitialResponse,
  buildSaslResponse,
  buildStartupMessage,
  computeMd5Password,
  PgFrameReader,
  parseAuthenticationRequest,
} from "./pg-messages.js";
import {
  computeScramClientFinal,
  createScramClientFirst,
  SCRAM_SHA_256,
  type ScramClientFinal,
  type ScramClientFirst,
  verifyScramServerFinal,
} from "./pg-scram.js";

/** Largest backend message accepted during login (notices and parameter values are small). */
const MAX_BACKEND_LOGIN_MESSAGE_LENGTH = 1024 * 1024;

/** Where and as whom {@link loginToBackend} logs in. */
export interface BackendLoginOptions {
  /** The backend's host name or IP address (also named in connection errors). */
  readonly host: string;
  /** The backend's TCP port, e.g. 5432. */
  readonly port: number;
  /** Used when the backend asks for a cleartext, MD5 or SCRAM-SHA-256 password; without it only trust works. */
  readonly password?: string;
  /** The `user` startup parameter: the backend role to log in as. */
  readonly user: string;
  /** The `database` startup parameter: the database to connect to. */
  readonly database: string;
  /** Other startup parameters to forward (application_name, client_encoding, options, ...). */
  readonly parameters: ReadonlyArray<readonly [string, string]>;
  /** Aborting destroys the backend socket and resolves with a failure. */
  readonly signal: AbortSignal;
  /**
   * A connected socket to log in on, e.g. TLS negotiated after an SSLRequest; without it, a plain
   * TCP connection to `host` and `port` is opened.
   */
  readonly socket?: Socket | undefined;
}

/** Outcome of {@link loginToBackend}. */
export type BackendLoginResult =
  | {
      /** The login succeeded. */
      readonly ok: true;
      /** The backend socket, paused, with an error listener attached; pipe it. */
      readonly socket: Socket;
      /** The backend's raw messages after AuthenticationOk up to and including ReadyForQuery. */
      readonly sessionStartBytes: Buffer;
    }
  | {
      /** The login failed; the backend socket is destroyed. */
      readonly ok: false;
      /** An ErrorResponse to forward to the client: the backend's own, or one describing the failure. */
      readonly errorResponse: Buffer;
    };

/**
 * Opens a plain TCP session to the backend (or uses `options.socket`) with Nagle's algorithm off,
 * completes its authentication (trust, cleartext, MD5 or SCRAM-SHA-256) and reads up to the first
 * ReadyForQuery. Never rejects.
 */
export function loginToBackend(options: BackendLoginOptions): Promise<BackendLoginResult> {
  return new Promise((resolve) => {
    const socket = options.socket ?? connect({ host: options.host, port: options.port });
    // The login is several small round trips and the socket is piped afterwards: no Nagle delay on
    // any of it (on a TLS socket this reaches the TCP socket beneath).
    socket.setNoDelay(true);
    const reader = new PgFrameReader();
    const sessionStart: Buffer[] = [];
    let authenticated = false;
    let scramFirst: ScramClientFirst | undefined;
    let scramFinal: ScramClientFinal | undefined;
    let settled = false;

    const fail = (errorResponse: Buffer) => {
      if (settled) return;
      settled = true;
      cleanup();
      socket.destroy();
      resolve({ ok: false, errorResponse });
    };
    const failWith = (message: string, code = "08006") =>
      fail(buildErrorResponse({ severity: "FATAL", code, message }));
    const onAbort = () => failWith("login to the backend was aborted");
    const onError = (error: Error) =>
      failWith(`could not connect to the backend at ${options.host}:${options.port}: ${error.message}`);
    const onClose = () => failWith("the backend closed the connection during login");
    const cleanup = () => {
      options.signal.removeEventListener("abort", onAbort);
      socket.off("data", onData);
      socket.off("error", onError);
      socket.off("close", onClose);
    };

    const onData = (chunk: Buffer) => {
      try {
        reader.push(chunk);
        for (let message = reader.readMessage(MAX_BACKEND_LOGIN_MESSAGE_LENGTH); message !== undefined; ) {
          if (settled) return;
          if (message.type === "E") return fail(Buffer.from(message.bytes));
          if (message.type === "R" && !authenticated) {
            handleAuthentication(message.payload);
          } else if (authenticated) {
            sessionStart.push(Buffer.from(message.bytes));
            if (message.type === "Z") return succeed();
          } else if (message.type === "N" || message.type === "v") {
            sessionStart.push(Buffer.from(message.bytes));
          } else {
            return failWith(
              `unexpected message "${message.type}" from the backend during authentication`,
              "08P01",
            );
          }
          message = reader.readMessage(MAX_BACKEND_LOGIN_MESSAGE_LENGTH);
        }
      } catch (error) {
        failWith(`backend login failed: ${(error as Error).message}`, "08P01");
      }
    };

    const succeed = () => {
      settled = true;
      // Pause before dropping the data listener so no byte is lost before the caller pipes.
      socket.pause();
      cleanup();
      socket.on("error", () => {});
      const remainder = reader.takeRemainder();
      if (remainder.length > 0) socket.unshift(remainder);
      resolve({ ok: true, socket, sessionStartBytes: Buffer.concat(sessionStart) });
    };

    const requirePassword = (): string => {
      if (options.password === undefined) {
        throw new Error(
          `the backend at ${options.host}:${options.port} asked for a password; set backend.password in the gateway options`,
        );
      }
      return options.password;
    };

    const handleAuthentication = (payload: Buffer) => {
      const request = parseAuthenticationRequest(payload);
      switch (request.method) {
        case "ok":
          authenticated = true;
          return;
        case "cleartext":
          socket.write(buildPasswordMessage(requirePassword()));
          return;
        case "md5":
          socket.write(
            buildPasswordMessage(computeMd5Password(options.user, requirePassword(), request.salt)),
          );
          return;
        case "sasl":
          if (!request.mechanisms.includes(SCRAM_SHA_256)) {
            throw new Error(`no supported SASL mechanism among ${request.mechanisms.join(", ")}`);
          }
          requirePassword();
          scramFirst = createScramClientFirst(randomBytes(18).toString("base64"));
          socket.write(buildSaslInitialResponse(SCRAM_SHA_256, scramFirst.message));
          return;
        case "sasl-continue":
          if (scramFirst === undefined) throw new Error("unexpected SASL continue");
          scramFinal = computeScramClientFinal(scramFirst, request.data.toString("utf8"), requirePassword());
          socket.write(buildSaslResponse(scramFinal.message));
          return;
        case "sasl-final":
          if (scramFinal === undefined) throw new Error("unexpected SASL final");
          verifyScramServerFinal(request.data.toString("utf8"), scramFinal);
          return;
        case "unsupported":
          throw new Error(`unsupported authentication method ${request.code} requested by the backend`);
      }
    };

    if (options.signal.aborted) return onAbort();
    options.signal.addEventListener("abort", onAbort, { once: true });
    socket.on("data", onData);
    socket.on("error", onError);
    socket.on("close", onClose);
    const sendStartup = () =>
      socket.write(
        buildStartupMessage([["user", options.user], ["database", options.database], ...options.parameters]),
      );
    if (options.socket) sendStartup();
    else socket.on("connect", sendStartup);
  });
}

import type { GatewayProtocol, GatewaySession } from "../server/gateway-session.js";
import {
  buildErrorResponse,
  buildNegotiateProtocolVersion,
  PG_MAX_AUTH_TOKEN_LENGTH,
  type PgFrameReader,
  parsePasswordMessage,
  parseStartupPacket,
} from "./pg-messages.js";

/** What a server learns from a PostgreSQL client's StartupMessage. */
export interface PgClientStartup {
  /** The `user` parameter (never empty: a startup without one is refused). */
  readonly user: string;
  /** The `database` parameter; `undefined` when absent or empty (libpq then means the user's name). */
  readonly database: string | undefined;
  /** The other parameters in the order sent (`application_name`, `options`, ...), without `_pq_.*` ones. */
  readonly parameters: ReadonlyArray<readonly [string, string]>;
}

/** The parts of a {@link GatewaySession} that {@link readPgClientStartup} uses. */
export type PgStartupSession = Pick<GatewaySession, "tls" | "client" | "destroy" | "end" | "upgradeToTls">;

/** How {@link readPgClientStartup} answers a client's startup packets. */
export interface PgClientStartupHandler {
  /** Answer SSLRequest with `S` and take the connection over to TLS; `false` answers `N`. */
  readonly offerTls: boolean;
  /** A CancelRequest arrived (the packet as sent); the session reads nothing more. */
  cancel(bytes: Buffer): void;
  /** A StartupMessage for protocol 3 with a user arrived; the handler asks for a password or authorizes. */
  startup(startup: PgClientStartup): void;
}

/**
 * Reads and answers the next startup-phase packet of a PostgreSQL client, as servers do: SSLRequest
 * (`S` and a TLS upgrade when `offerTls`, else `N`; bytes sent before the handshake, or a second
 * request, destroy the session), GSSENCRequest (`N`), CancelRequest, and StartupMessage (protocol 3
 * only, with NegotiateProtocolVersion for a newer minor version or `_pq_.` options, and a user
 * required). For a server's {@link GatewayProtocol.readNext} in the `startup` phase.
 *
 * @returns Whether to keep reading packets.
 */
export function readPgClientStartup(
  session: PgStartupSession,
  reader: PgFrameReader,
  handler: PgClientStartupHandler,
): boolean {
  const bytes = reader.readStartupPacket();
  if (bytes === undefined) return false;
  const packet = parseStartupPacket(bytes);
  switch (packet.kind) {
    case "ssl-request":
      // Bytes after SSLRequest but before the handshake would be unencrypted injected data.
      if (session.tls || reader.bufferedLength > 0) {
        session.destroy();
        return false;
      }
      if (!handler.offerTls) {
        session.client.write("N");
        return true;
      }
      session.client.write("S");
      session.upgradeToTls({ ALPNProtocols: ["postgresql"] });
      return false;
    case "gssenc-request":
      if (session.tls) {
        session.destroy();
        return false;
      }
      session.client.write("N");
      return true;
    case "cancel-request":
      handler.cancel(packet.bytes);
      return false;
    case "startup":
      return startLogin(session, packet.majorVersion, packet.minorVersion, packet.parameters, handler);
  }
}

function startLogin(
  session: PgStartupSession,
  major: number,
  minor: number,
  parameters: ReadonlyArray<readonly [string, string]>,
  handler: PgClientStartupHandler,
): boolean {
  if (major !== 3) {
    session.end(
      buildErrorResponse({
        severity: "FATAL",
        code: "0A000",
        message: `unsupported frontend protocol ${major}.${minor}: server supports 3.0 to 3.0`,
      }),
    );
    return false;
  }
  const unrecognized = parameters.filter(([key]) => key.startsWith("_pq_.")).map(([key]) => key);
  if (minor > 0 || unrecognized.length > 0) session.client.write(buildNegotiateProtocolVersion(unrecognized));
  const user = parameters.find(([key]) => key === "user")?.[1] ?? "";
  if (user === "") {
    session.end(
      buildErrorResponse({
        severity: "FATAL",
        code: "28000",
        message: "no PostgreSQL user name specified in startup packet",
      }),
    );
    return false;
  }
  handler.startup({
    user,
    database: parameters.find(([key]) => key === "database")?.[1] || undefined,
    parameters: parameters.filter(
      ([key]) => key !== "user" && key !== "database" && !key.startsWith("_pq_."),
    ),
  });
  return true;
}

/**
 * Reads the PasswordMessage a PostgreSQL client sends after AuthenticationCleartextPassword and hands
 * the password to `session.authorize` for `login`; any other message destroys the session. For a
 * server's {@link GatewayProtocol.readNext} in the `token` phase.
 *
 * @returns Whether to keep reading packets: always false (the session decides what comes next).
 */
export function readPgPasswordMessage(
  session: Pick<GatewaySession, "destroy" | "authorize">,
  reader: PgFrameReader,
  login: { readonly user: string; readonly database: string },
): boolean {
  const message = reader.readMessage(PG_MAX_AUTH_TOKEN_LENGTH);
  if (message === undefined) return false;
  if (message.type !== "p") {
    session.destroy();
    return false;
  }
  session.authorize(parsePasswordMessage(message.payload), login);
  return false;
}

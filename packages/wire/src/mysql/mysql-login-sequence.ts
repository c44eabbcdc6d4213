import type { GatewaySession } from "../server/gateway-session.js";
import {
  buildClearPasswordSwitch,
  buildErrorPacket,
  buildPacket,
  MysqlCapability,
  type MysqlErrorFields,
  type MysqlHandshakeResponse,
  type MysqlPacket,
  parseClearPassword,
} from "./mysql-packets.js";

/**
 * The sequence ids of a MySQL server's side of a login: the greeting is 0, every client packet must
 * carry the next id, and every reply the one after it. An ERR reuses the id it would have had, as
 * the last packet of the exchange. After login each command starts again at 0, so piping needs none.
 *
 * @example
 * const sequence = new MysqlLoginSequence();
 * socket.write(sequence.packet(buildHandshake(greeting)));   // id 0
 * if (!sequence.accept(reader.readPacket(max))) socket.destroy(); // the client's 1
 */
export class MysqlLoginSequence {
  #next = 0;

  /** True when `packet` carries the expected id (and then the next reply follows it); false for an out-of-order packet. */
  accept(packet: Pick<MysqlPacket, "sequenceId">): boolean {
    if (packet.sequenceId !== this.#next) return false;
    this.#next = (this.#next + 1) & 0xff;
    return true;
  }

  /** Frames `payload` with the next id and moves past it. */
  packet(payload: Buffer): Buffer {
    const packet = buildPacket(this.#next, payload);
    this.#next = (this.#next + 1) & 0xff;
    return packet;
  }

  /** Frames an ERR packet with the next id: the last packet of the login. */
  error(fields: MysqlErrorFields): Buffer {
    return buildPacket(this.#next, buildErrorPacket(fields));
  }
}

/** The parts of a {@link GatewaySession} that {@link askForClearPassword} uses. */
export type MysqlPasswordSession = Pick<GatewaySession, "refuse" | "authorize" | "awaitToken" | "client">;

/**
 * Asks a MySQL client that sent its HandshakeResponse41 for its password in cleartext: a client
 * without plugin authentication is refused (1251); one that already answered with
 * `mysql_clear_password` is authorized on that answer; any other gets an AuthSwitchRequest to
 * `mysql_clear_password` and its next packet carries the password.
 */
export function askForClearPassword(
  session: MysqlPasswordSession,
  sequence: MysqlLoginSequence,
  response: MysqlHandshakeResponse,
  login: { readonly user: string; readonly database: string },
): void {
  if (!(response.capabilities & MysqlCapability.pluginAuth)) {
    session.refuse(
      sequence.error({
        code: 1251,
        sqlState: "08004",
        message:
          "Client does not support authentication protocol requested by server; consider upgrading MySQL client",
      }),
    );
    return;
  }
  // A client that already chose cleartext (the greeting named it) sent the password: skip the switch.
  if (response.authPluginName === "mysql_clear_password" && response.authResponse.length > 0) {
    session.authorize(parseClearPassword(response.authResponse), login);
    return;
  }
  session.awaitToken();
  session.client.write(sequence.packet(buildClearPasswordSwitch()));
}

import { buildErrorPacket, buildPacket, type MysqlErrorFields, type MysqlPacket } from "./mysql-packets.js";

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

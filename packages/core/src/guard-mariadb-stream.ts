import { Socket } from "node:net";
import type { Duplex } from "node:stream";
import { EntraAuthError } from "./entra-auth-error.js";

/**
 * The mariadb connector's `stream` option: it calls the function with a callback and uses the
 * stream passed to it (or returned) as the connection's socket.
 */
export type MariadbStreamOption = (
  callback: (error: Error | null, stream?: Duplex) => void,
) => Duplex | undefined;

/** Options of {@link guardMariadbStream}. */
export interface GuardMariadbStreamOptions {
  /** The server's host name, as the connector would connect to it. */
  readonly host: string;
  /** The server's port. */
  readonly port: number;
  /**
   * The version of the mariadb connector that will use the stream (its `version` export). When it
   * is unknown, the connector is treated as one that skips certificate verification for MariaDB servers.
   */
  readonly connectorVersion: string | undefined;
  /** A `stream` option of the user's own (an SSH tunnel, say) to open instead of a TCP connection. Defaults to a TCP connection. */
  readonly open?: MariadbStreamOption;
  /** How long to wait for the connection and the server's greeting. Defaults to 10 000. */
  readonly timeoutInMs?: number;
}

/**
 * Whether a mariadb connector version trusts any certificate of a server whose greeting claims
 * to be MariaDB and then answers that server's switch to `mysql_clear_password` with the
 * password: up to 3.4.5 and 3.5.0 to 3.5.2 do (3.4.7 and 3.5.3 check the plugin the server
 * switches to). `@prisma/adapter-mariadb` 7.10 pins 3.4.5.
 *
 * @example
 * ```ts
 * mariadbConnectorTrustsMariadbServers("3.4.5"); // true
 * mariadbConnectorTrustsMariadbServers("3.5.4"); // false
 * ```
 *
 * @returns `true` for those versions and for an unknown or unparsable version.
 */
export function mariadbConnectorTrustsMariadbServers(version: string | undefined): boolean {
  const match = /^(\d+)\.(\d+)\.(\d+)/.exec(version ?? "");
  if (!match) return true;
  const [major, minor, patch] = [Number(match[1]), Number(match[2]), Number(match[3])];
  if (major !== 3) return major < 3;
  if (minor < 4) return true;
  if (minor === 4) return patch < 7;
  if (minor === 5) return patch < 3;
  return false;
}

/** What a MySQL-protocol server greeting claims, read from its first packet. */
interface GreetingClaim {
  readonly serverVersion: string;
  readonly mariadb: boolean;
}

/**
 * Reads what the server claims to be from a HandshakeV10 packet: MariaDB when the version names
 * it, carries MariaDB's `5.5.5-` replication prefix, or the `CLIENT_MYSQL` capability bit is
 * clear (the connector's own rules). Returns `undefined` while the packet is incomplete and for
 * anything that is not a HandshakeV10 (the connector then reports it itself).
 */
function readGreetingClaim(bytes: Buffer): GreetingClaim | "incomplete" | undefined {
  if (bytes.length < 4) return "incomplete";
  const length = bytes.readUIntLE(0, 3);
  if (bytes.length < 4 + length) return "incomplete";
  const payload = bytes.subarray(4, 4 + length);
  if (payload[0] !== 10) return undefined;
  const end = payload.indexOf(0, 1);
  if (end < 0) return undefined;
  const serverVersion = payload.subarray(1, end).toString("latin1");
  // connection id (4), scramble part 1 (8), filler (1), then the lower capability flags.
  const capabilitiesAt = end + 1 + 4 + 8 + 1;
  if (payload.length < capabilitiesAt + 2) return undefined;
  const clientMysql = (payload.readUInt16LE(capabilitiesAt) & 0x1) !== 0;
  const mariadb = serverVersion.startsWith("5.5.5-") || serverVersion.includes("MariaDB") || !clientMysql;
  return { serverVersion, mariadb };
}

/**
 * Returns a `stream` option for the mariadb connector that opens the connection, reads the
 * server's greeting, and hands the socket to the connector untouched only if the connector will
 * verify that server's certificate. A mariadb connector that trusts any certificate of a server
 * claiming to be MariaDB (versions up to 3.4.5, and 3.5.0 to 3.5.2) would otherwise send
 * the token to an impersonator that says so: such a greeting ends the attempt with
 * `EntraAuthError` `INSECURE_TRANSPORT` before the connector reads a byte. Azure Database for
 * MySQL is MySQL 8 and never claims to be MariaDB.
 *
 * @example
 * ```ts
 * mariadb.createConnection({ ...options, stream: guardMariadbStream({ host, port, connectorVersion: mariadb.version }) });
 * ```
 *
 * @returns The function to pass as the connector's `stream` option.
 */
export function guardMariadbStream(options: GuardMariadbStreamOptions): MariadbStreamOption {
  const trustsMariadb = mariadbConnectorTrustsMariadbServers(options.connectorVersion);
  return (callback) => {
    let stream: Duplex | undefined;
    let settled = false;
    let received = Buffer.alloc(0);
    const finish = (error: Error | null) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      if (!stream) {
        callback(error ?? new Error("The stream option opened no stream."));
        return;
      }
      stream.off("data", onData);
      stream.off("error", onError);
      stream.off("end", onEnd);
      if (error) {
        stream.destroy();
        callback(error);
        return;
      }
      stream.pause();
      if (received.length > 0) stream.unshift(received);
      try {
        callback(null, stream);
      } catch {
        // The connector gave up on this connection meanwhile (its pool ended, its own timeout
        // fired) and cannot take the stream any more.
        stream.destroy();
        return;
      }
      // The connector attached its listeners in the callback. It waits for `connect` to finish
      // setting the socket up, which our own socket has already emitted; and a stream we paused
      // stays paused until resumed.
      if (stream instanceof Socket && !stream.connecting) stream.emit("connect");
      stream.resume();
    };
    const onData = (chunk: Buffer) => {
      received = Buffer.concat([received, chunk]);
      const claim = readGreetingClaim(received);
      if (claim === "incomplete") return;
      if (claim?.mariadb && trustsMariadb) {
        finish(
          new EntraAuthError(
            "INSECURE_TRANSPORT",
            `The server at ${options.host}:${options.port} says it is MariaDB ("${claim.serverVersion.slice(0, 80)}"), and mariadb connector ${options.connectorVersion ?? "(unknown version)"} trusts any certificate of a MariaDB server, so the access token was not sent.`,
            {
              hint: "Azure Database for MySQL is MySQL 8 and never says so: check the host name. For a MariaDB server of your own, use mariadb >= 3.4.7 or >= 3.5.3.",
            },
          ),
        );
        return;
      }
      finish(null);
    };
    const onError = (error: Error) => finish(error);
    const onEnd = () =>
      finish(
        new Error(`The server at ${options.host}:${options.port} closed the connection before its greeting.`),
      );
    const attach = (opened: Duplex) => {
      stream = opened;
      opened.on("data", onData);
      opened.on("error", onError);
      opened.on("end", onEnd);
    };
    const timeoutInMs = options.timeoutInMs ?? 10_000;
    const timer = setTimeout(
      () => finish(new Error(`No greeting from ${options.host}:${options.port} within ${timeoutInMs} ms.`)),
      timeoutInMs,
    );
    timer.unref();
    if (options.open) {
      let handed = false;
      const returned = options.open((error, opened) => {
        if (handed) return;
        handed = true;
        if (error || !opened) {
          finish(error ?? new Error("The stream option opened no stream."));
          return;
        }
        attach(opened);
      });
      if (returned && !handed) {
        handed = true;
        attach(returned);
      }
      return undefined;
    }
    const socket = new Socket();
    socket.setNoDelay(true);
    attach(socket);
    socket.connect(options.port, options.host);
    return undefined;
  };
}

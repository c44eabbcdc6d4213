import {
  authenticateMysqlBackend,
  buildQueryCommand,
  type MysqlBackendError,
  type MysqlBackendSession,
  MysqlCapability,
  type MysqlErrorFields,
  openMysqlBackend,
  parseErrorPacket,
} from "@org/entra-wire";

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

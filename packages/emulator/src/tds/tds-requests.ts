import {
  buildColMetadata,
  buildDone,
  buildEnvChangeBytes,
  buildErrorToken,
  buildReturnStatus,
  buildRow,
  DoneStatus,
  EnvChangeType,
  parseRpcRequest,
  parseSqlBatch,
  parseTransactionManagerRequest,
  type RpcValue,
  SpecialProc,
  type TdsMessage,
  TdsPacketStatus,
  TdsPacketType,
  TdsProtocolError,
  TokenType,
} from "@org/entra-wire";
import { sessionTokenExpiredError } from "./tds-login.js";
import { runSqlBatch, type SqlOutcome, type SqlSession } from "./tds-sql.js";
import type { TdsTransport } from "./tds-transport.js";

/** The connection a {@link TdsRequests} answers on. */
export interface TdsRequestsConnection {
  /** Where answers go; `drain` hands over requests that waited behind a delayed answer. */
  readonly transport: Pick<TdsTransport, "send" | "drain">;
  /** Who the session runs as and where (`CURRENT_USER`, `SUSER_SNAME()`, `DB_NAME()`, `@@SPID`, `@@SERVERNAME`). */
  readonly session: Omit<SqlSession, "transactionCount" | "parameters">;
  /** A delayed answer could not be sent: the connection is destroyed. */
  fail(): void;
  /**
   * Whether the session's login token has expired now. When it says so, a request is answered with
   * error 37396 and the session ends (see {@link TdsRequestsConnection.end}). Defaults to never.
   */
  sessionExpired?(): boolean;
  /** Ends the connection after what was sent (the session's token expired). */
  end?(): void;
}

/**
 * The requests of one logged-in Azure SQL (TDS) session: SQL batches and `sp_executesql` answered
 * by {@link runSqlBatch} as result tokens, transaction-manager requests and `BEGIN`/`COMMIT`/
 * `ROLLBACK` with their ENVCHANGE descriptors, RESETCONNECTION, abandoned (IGNORE) requests, and
 * ATTENTION, which cuts a `WAITFOR DELAY` short. Other RPCs get 2812.
 *
 * @example
 * const requests = new TdsRequests({ transport, session: { user, login, database, spid, serverName }, fail: destroy });
 * requests.handle(message); // after login, every message
 * requests.stop(); // when the connection goes
 */
export class TdsRequests {
  readonly #connection: TdsRequestsConnection;
  #transactionCount = 0;
  #transactionDescriptor = Buffer.alloc(8);
  #nextTransaction = 1n;
  /** A response held back by `WAITFOR DELAY`, sent when its timer fires unless ATTENTION cancels it. */
  #pending: NodeJS.Timeout | undefined;

  constructor(connection: TdsRequestsConnection) {
    this.#connection = connection;
  }

  /** Answers one request; throws on a message no logged-in session sends (the connection is dropped). */
  handle(message: TdsMessage): void {
    if (message.type === TdsPacketType.attention) {
      // A pending WAITFOR is cut short: its response message ends with a bare DONE, then the
      // acknowledgement (DONE with ATTN) follows as its own message, as SQL Server does.
      if (this.#pending) {
        clearTimeout(this.#pending);
        this.#pending = undefined;
        this.#send(buildDone());
      }
      this.#send(buildDone({ status: DoneStatus.attention }));
      return;
    }
    if (this.#pending) throw new TdsProtocolError("A request arrived while another one runs.");
    if (this.#connection.sessionExpired?.()) {
      // Azure SQL re-validates the session's token when a request arrives: an expired one ends
      // the session with 37396 instead of running the request.
      this.#send(
        Buffer.concat([
          buildErrorToken(sessionTokenExpiredError(this.#connection.session.serverName)),
          buildDone({ status: DoneStatus.error }),
        ]),
      );
      this.#connection.end?.();
      return;
    }
    if (message.ignored) {
      // The client canceled while sending: answer the abandoned message with an empty DONE.
      this.#send(buildDone());
      return;
    }
    const prefix: Buffer[] = [];
    if (message.status & (TdsPacketStatus.resetConnection | TdsPacketStatus.resetConnectionSkipTran)) {
      if (message.status & TdsPacketStatus.resetConnection) this.#transactionCount = 0;
      prefix.push(buildEnvChangeBytes(EnvChangeType.resetConnection, Buffer.alloc(0), Buffer.alloc(0)));
    }
    switch (message.type) {
      case TdsPacketType.sqlBatch: {
        const outcome = runSqlBatch(parseSqlBatch(message.payload), this.#sqlSession());
        this.#respond(outcome, [...prefix, ...this.#outcomeTokens(outcome, false)]);
        return;
      }
      case TdsPacketType.rpc: {
        const { outcome, tokens } = this.#rpcTokens(message.payload);
        this.#respond(outcome, [...prefix, ...tokens]);
        return;
      }
      case TdsPacketType.transactionManager:
        this.#send(Buffer.concat([...prefix, ...this.#transactionManagerTokens(message.payload)]));
        return;
      default:
        throw new TdsProtocolError(`Unsupported message type ${message.type}.`);
    }
  }

  /** Drops a response held back by `WAITFOR DELAY`. */
  stop(): void {
    clearTimeout(this.#pending);
  }

  #send(payload: Buffer): void {
    this.#connection.transport.send(TdsPacketType.tabularResult, payload);
  }

  #sqlSession(parameters?: ReadonlyMap<string, RpcValue>): SqlSession {
    return { ...this.#connection.session, transactionCount: this.#transactionCount, parameters };
  }

  /** Sends the response now, or after the outcome's `WAITFOR DELAY` unless ATTENTION comes first. */
  #respond(outcome: SqlOutcome | undefined, tokens: Buffer[]): void {
    const payload = Buffer.concat(tokens);
    if (!outcome?.delayMs) {
      this.#send(payload);
      return;
    }
    this.#pending = setTimeout(() => {
      this.#pending = undefined;
      try {
        this.#send(payload);
        this.#connection.transport.drain();
      } catch {
        this.#connection.fail();
      }
    }, outcome.delayMs);
  }

  #transactionManagerTokens(payload: Buffer): Buffer[] {
    const request = parseTransactionManagerRequest(payload);
    const effect =
      request.requestType === 5
        ? "begin"
        : request.requestType === 7
          ? "commit"
          : request.requestType === 8
            ? "rollback"
            : request.requestType === 9
              ? undefined
              : "unsupported";
    if (effect === "unsupported") {
      return [
        buildErrorToken({
          number: 40517,
          state: 1,
          class: 16,
          message:
            "Keyword or statement option 'distributed transactions' is not supported in this version of SQL Server.",
          serverName: this.#connection.session.serverName,
        }),
        buildDone({ status: DoneStatus.error }),
      ];
    }
    return [...this.#transactionTokens(effect), buildDone()];
  }

  #rpcTokens(payload: Buffer): { outcome?: SqlOutcome; tokens: Buffer[] } {
    const request = parseRpcRequest(payload);
    const name = request.procName?.toLowerCase().replace(/^(?:\[?sys\]?\.)?\[?(.*?)\]?$/, "$1");
    const serverName = this.#connection.session.serverName;
    if (request.procId === SpecialProc.executeSql || name === "sp_executesql") {
      const statement = request.parameters[0]?.value;
      if (typeof statement !== "string") {
        return {
          tokens: [
            buildErrorToken({
              number: 214,
              state: 2,
              class: 16,
              message: "Procedure expects parameter '@statement' of type 'ntext/nchar/nvarchar'.",
              serverName,
              procName: "sp_executesql",
            }),
            buildDone({ status: DoneStatus.error }, TokenType.doneProc),
          ],
        };
      }
      const parameters = new Map<string, RpcValue>();
      for (const parameter of request.parameters.slice(2)) parameters.set(parameter.name, parameter.value);
      const outcome = runSqlBatch(statement, this.#sqlSession(parameters));
      return { outcome, tokens: this.#outcomeTokens(outcome, true) };
    }
    const procName =
      request.procName ??
      Object.entries(SpecialProc)
        .find(([, id]) => id === request.procId)?.[0]
        .replace(/^/, "sp_")
        .toLowerCase() ??
      `#${request.procId}`;
    return {
      tokens: [
        buildErrorToken({
          number: 2812,
          state: 62,
          class: 16,
          message: `Could not find stored procedure '${procName}'.`,
          serverName,
        }),
        buildDone({ status: DoneStatus.error }, TokenType.doneProc),
      ],
    };
  }

  #transactionTokens(effect: SqlOutcome["transaction"]): Buffer[] {
    if (effect === "begin") {
      this.#transactionCount += 1;
      if (this.#transactionCount > 1) return [];
      const descriptor = Buffer.alloc(8);
      descriptor.writeBigUInt64LE(this.#nextTransaction);
      this.#nextTransaction += 1n;
      this.#transactionDescriptor = descriptor;
      return [buildEnvChangeBytes(EnvChangeType.beginTransaction, descriptor, Buffer.alloc(0))];
    }
    if (effect === "commit" || effect === "rollback") {
      if (this.#transactionCount === 0) return [];
      if (effect === "commit" && this.#transactionCount > 1) {
        this.#transactionCount -= 1;
        return [];
      }
      this.#transactionCount = 0;
      const type = effect === "commit" ? EnvChangeType.commitTransaction : EnvChangeType.rollbackTransaction;
      return [buildEnvChangeBytes(type, Buffer.alloc(0), this.#transactionDescriptor)];
    }
    return [];
  }

  #outcomeTokens(outcome: SqlOutcome, rpc: boolean): Buffer[] {
    const tokens: Buffer[] = [];
    const statementDone = rpc ? TokenType.doneInProc : TokenType.done;
    const sets = outcome.resultSets;
    sets.forEach((set, index) => {
      tokens.push(buildColMetadata(set.columns));
      for (const row of set.rows) tokens.push(buildRow(set.columns, row));
      const last = index === sets.length - 1 && !outcome.error && !rpc;
      tokens.push(
        buildDone(
          {
            status: DoneStatus.count | (last ? 0 : DoneStatus.more),
            curCmd: 0xc1,
            rowCount: set.rows.length,
          },
          statementDone,
        ),
      );
    });
    if (outcome.error) {
      tokens.push(buildErrorToken(outcome.error));
      tokens.push(buildDone({ status: DoneStatus.error }, rpc ? TokenType.doneProc : TokenType.done));
      return tokens;
    }
    tokens.push(...this.#transactionTokens(outcome.transaction));
    if (rpc) {
      tokens.push(buildReturnStatus(0), buildDone({}, TokenType.doneProc));
    } else if (sets.length === 0 || outcome.transaction) {
      tokens.push(buildDone());
    }
    return tokens;
  }
}

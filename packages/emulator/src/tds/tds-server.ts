import type { Socket } from "node:net";
import { createSecureContext, type SecureContext } from "node:tls";
import type { LoginRejectionReason, SqlLoginDecision, SqlLoginRequest } from "../authorize-login.js";
import { listenTracked } from "../listen-tracked.js";
import {
  buildColMetadata,
  buildDone,
  buildEnvChangeBytes,
  buildEnvChangeText,
  buildErrorToken,
  buildFeatureExtAck,
  buildFedAuthInfo,
  buildInfoToken,
  buildLoginAck,
  buildPreloginResponse,
  buildReturnStatus,
  buildRow,
  DEFAULT_COLLATION,
  DoneStatus,
  Encryption,
  EnvChangeType,
  FeatureId,
  type Login7Request,
  parseFedAuthToken,
  parseLogin7,
  parsePrelogin,
  parseRpcRequest,
  parseSqlBatch,
  parseTransactionManagerRequest,
  type RpcValue,
  SpecialProc,
  TDS_DEFAULT_PACKET_SIZE,
  TDS_MAX_PACKET_SIZE,
  TDS_MIN_PACKET_SIZE,
  TDS_VERSION_7_4,
  type TdsMessage,
  type TdsMessageFields,
  TdsPacketStatus,
  TdsPacketType,
  TdsProtocolError,
  TokenType,
} from "./tds-packets.js";
import { AZURE_SQL_PRODUCT_VERSION, runSqlBatch, type SqlOutcome, type SqlSession } from "./tds-sql.js";
import { TdsTransport } from "./tds-transport.js";

/**
 * Options of {@link startSqlServerEndpoint}.
 *
 * Defaults to the values named on each member.
 */
export interface SqlServerEndpointOptions {
  /** Interface to listen on, e.g. `127.0.0.1`. */
  readonly host: string;
  /** Port to listen on; `0` picks a free port (read it back from {@link SqlServerEndpoint.port}). */
  readonly port: number;
  /** PEM private key and certificate chain (TDS 8 strict TLS and TLS inside PRELOGIN). */
  readonly tls: { readonly key: string; readonly cert: string };
  /**
   * Require encryption, as Azure SQL Database does: a client whose PRELOGIN says it cannot encrypt
   * is answered ENCRYPT_REQ and refused (`tls-required`). Defaults to true in `startEmulator`.
   */
  readonly requireTls: boolean;
  /** The one database (`DB_NAME()`); LOGIN7 may name it or nothing. */
  readonly database: string;
  /** Tenant of the STS URL sent in FEDAUTHINFO (`https://login.microsoftonline.com/<tenant>/`). */
  readonly tenantId: string;
  /** Server name in ERROR/INFO tokens and `@@SERVERNAME`. Defaults to `emulated-sql`. */
  readonly serverName?: string;
  /** Decides a login from the access token. A throw or rejection counts as `invalid`. */
  authorize(request: SqlLoginRequest): SqlLoginDecision | Promise<SqlLoginDecision>;
  /**
   * Called once per login attempt: `accepted` with the database user, or refused with a reason
   * (`expired`, `audience`, `invalid`, `principal`, `tls-required`, `database`). Throws are ignored.
   * Defaults to no callback.
   */
  onLogin?(event: { accepted: boolean; reason?: LoginRejectionReason | "database"; user: string }): void;
}

/**
 * Tunables of {@link startSqlServerEndpoint} that tests shorten.
 *
 * Defaults to {@link DEFAULT_SQLSERVER_ENDPOINT_LIMITS}.
 */
export interface SqlServerEndpointLimits {
  /** A connection that has not logged in after this long is closed. Defaults to 30 000. */
  readonly startupTimeoutInMs: number;
  /** How long a refused client may take to close before its socket is destroyed. Defaults to 2 000. */
  readonly lingerInMs: number;
  /** Largest PRELOGIN/LOGIN7/FEDAUTH_TOKEN message. Defaults to 256 KiB. */
  readonly maxLoginMessageLength: number;
  /** Largest request message after login. Defaults to 4 MiB. */
  readonly maxRequestLength: number;
}

/** Default {@link SqlServerEndpointLimits}. */
export const DEFAULT_SQLSERVER_ENDPOINT_LIMITS: SqlServerEndpointLimits = Object.freeze({
  startupTimeoutInMs: 30_000,
  lingerInMs: 2_000,
  maxLoginMessageLength: 256 * 1024,
  maxRequestLength: 4 * 1024 * 1024,
});

/**
 * A running Azure SQL (TDS) endpoint; `close()` stops it.
 *
 * Defaults to none: returned by {@link startSqlServerEndpoint}.
 */
export interface SqlServerEndpoint {
  /** The host it listens on, as given in the options. */
  readonly host: string;
  /** The port it listens on (the real one when `0` was asked). */
  readonly port: number;
  /** Stops listening and destroys every connection. Idempotent. */
  close(): Promise<void>;
}

/** The resource whose `/.default` scope tedious asks for: the SPN in FEDAUTHINFO. */
export const SQL_FEDAUTH_SPN = "https://database.windows.net/";

const PRODUCT_VERSION = AZURE_SQL_PRODUCT_VERSION.split(".").map(Number) as [number, number, number, number];
/** The version a PRELOGIN response carries (Azure SQL Database's `12.0.2000.0`). */
export const SQL_SERVER_PRELOGIN_VERSION: readonly [number, number, number, number] = [
  PRODUCT_VERSION[0],
  PRODUCT_VERSION[1],
  PRODUCT_VERSION[2],
  0,
];

/**
 * The ERROR token Azure SQL Database sends for a refused Entra login: 18456, class 14, with the
 * `<token-identified principal>` placeholder (state 233 for an expired token, 1 otherwise).
 *
 * Defaults to none: every reason maps to one message.
 */
export function sqlServerRejectionError(
  reason: LoginRejectionReason,
  serverName = "emulated-sql",
): TdsMessageFields {
  const base = "Login failed for user '<token-identified principal>'.";
  switch (reason) {
    case "expired":
      return { number: 18456, state: 233, class: 14, message: `${base} Token is expired.`, serverName };
    case "audience":
    case "invalid":
      return {
        number: 18456,
        state: 1,
        class: 14,
        message: `${base} Incorrect or invalid token.`,
        serverName,
      };
    case "principal":
      return { number: 18456, state: 1, class: 14, message: base, serverName };
    case "tls-required":
      return {
        number: 18456,
        state: 1,
        class: 14,
        message: `${base} The server requires encryption: connect with encrypt=true (TLS).`,
        serverName,
      };
  }
}

/**
 * Starts an endpoint that speaks TDS like Azure SQL Database with Microsoft Entra authentication,
 * answering a small set of statements itself (there is no SQL Server behind it): TDS 8 strict TLS
 * or TLS inside PRELOGIN (TDS 7.4), LOGIN7 with FEDAUTH (SECURITYTOKEN, or ADAL with the
 * FEDAUTHINFO -> FEDAUTH_TOKEN exchange), then SQL_BATCH, `sp_executesql`, ATTENTION and
 * transaction-manager requests.
 *
 * @example
 * const endpoint = await startSqlServerEndpoint({
 *   host: "127.0.0.1", port: 0, tls: { key, cert }, requireTls: true, database: "emulated-db", tenantId,
 *   authorize: ({ token }) => authorizeSqlLogin({ token, database: "", remoteAddress: "" }, policy),
 * });
 * // tedious: { server: "localhost", options: { port: endpoint.port, encrypt: "strict", cryptoCredentialsDetails: { ca } },
 * //            authentication: { type: "azure-active-directory-access-token", options: { token } } }
 * await endpoint.close();
 */
export async function startSqlServerEndpoint(
  options: SqlServerEndpointOptions,
  limits: Partial<SqlServerEndpointLimits> = {},
): Promise<SqlServerEndpoint> {
  const settings: EndpointSettings = {
    options,
    limits: { ...DEFAULT_SQLSERVER_ENDPOINT_LIMITS, ...limits },
    secureContext: createSecureContext({ key: options.tls.key, cert: options.tls.cert }),
    serverName: options.serverName ?? "emulated-sql",
    nextSpid: 51,
  };
  return listenTracked(options, (socket, forget) => new TdsConnection(socket, settings, forget));
}

interface EndpointSettings {
  readonly options: SqlServerEndpointOptions;
  readonly limits: SqlServerEndpointLimits;
  readonly secureContext: SecureContext;
  readonly serverName: string;
  nextSpid: number;
}

type Phase =
  | "prelogin"
  | "login7"
  | "fedauth-token"
  | "authorizing"
  | "refused-plaintext"
  | "ready"
  | "closing"
  | "closed";

/** One client connection from accept to close; never throws out of its event handlers. */
class TdsConnection {
  readonly #settings: EndpointSettings;
  readonly #onClosed: () => void;
  readonly #remoteAddress: string;
  readonly #spid: number;
  readonly #transport: TdsTransport;
  #phase: Phase = "prelogin";
  #fedAuthRequested = false;
  #login: Login7Request | undefined;
  #session: { user: string; login: string } | undefined;
  #transactionCount = 0;
  #transactionDescriptor = Buffer.alloc(8);
  #nextTransaction = 1n;
  #timer: NodeJS.Timeout | undefined;
  #tlsRejectionReported = false;
  /** A response held back by `WAITFOR DELAY`, sent when its timer fires unless ATTENTION cancels it. */
  #pending: NodeJS.Timeout | undefined;

  constructor(raw: Socket, settings: EndpointSettings, onClosed: () => void) {
    this.#settings = settings;
    this.#onClosed = onClosed;
    this.#remoteAddress = normalizeAddress(raw.remoteAddress);
    this.#spid = settings.nextSpid;
    settings.nextSpid = settings.nextSpid >= 32_000 ? 51 : settings.nextSpid + 1;
    this.#transport = new TdsTransport(
      raw,
      { maxMessageLength: settings.limits.maxLoginMessageLength, spid: this.#spid },
      {
        strict: () => this.#transport.startStrictTls(settings.secureContext),
        message: (message) => this.#handle(message),
        accepting: () =>
          this.#phase !== "authorizing" && this.#phase !== "closing" && this.#phase !== "closed",
        closed: () => this.destroy(),
      },
    );
    this.#timer = setTimeout(() => this.destroy(), settings.limits.startupTimeoutInMs);
    this.#timer.unref();
  }

  /** Destroys every socket of this connection. Idempotent. */
  destroy(): void {
    if (this.#phase === "closed") return;
    const wasRefusedPlaintext = this.#phase === "refused-plaintext";
    this.#phase = "closed";
    clearTimeout(this.#timer);
    clearTimeout(this.#pending);
    this.#transport.destroy();
    if (wasRefusedPlaintext) this.#reportTlsRejection();
    this.#onClosed();
  }

  #handle(message: TdsMessage): void {
    switch (this.#phase) {
      case "prelogin":
        this.#onPrelogin(message);
        return;
      case "login7":
        this.#onLogin7(message);
        return;
      case "fedauth-token":
        if (message.type !== TdsPacketType.fedAuthToken)
          throw new TdsProtocolError("Expected FEDAUTH_TOKEN.");
        this.#authorize(parseFedAuthToken(message.payload));
        return;
      case "refused-plaintext":
        // A client that ignored ENCRYPT_REQ and logs in anyway gets a clear error.
        this.#reportTlsRejection();
        this.#refuse([
          buildErrorToken(sqlServerRejectionError("tls-required", this.#settings.serverName)),
          buildDone({ status: DoneStatus.error }),
        ]);
        return;
      case "ready":
        this.#onRequest(message);
        return;
      default:
        throw new TdsProtocolError(`Unexpected message in phase ${this.#phase}.`);
    }
  }

  #send(type: number, payload: Buffer): void {
    this.#transport.send(type, payload);
  }

  // -------------------------------------------------------------------------------------------
  // PRELOGIN and TLS

  #onPrelogin(message: TdsMessage): void {
    if (message.type !== TdsPacketType.prelogin) throw new TdsProtocolError("Expected PRELOGIN.");
    const prelogin = parsePrelogin(message.payload);
    this.#fedAuthRequested = prelogin.fedAuthRequired !== undefined;
    const respond = (encryption: number) =>
      this.#send(
        TdsPacketType.tabularResult,
        buildPreloginResponse({
          version: SQL_SERVER_PRELOGIN_VERSION,
          encryption,
          fedAuthRequired: this.#fedAuthRequested,
        }),
      );
    if (this.#transport.encrypted) {
      respond(prelogin.encryption ?? Encryption.notSupported);
      this.#phase = "login7";
      return;
    }
    const clientEncryption = prelogin.encryption ?? Encryption.notSupported;
    if (clientEncryption === Encryption.notSupported) {
      if (this.#settings.options.requireTls) {
        respond(Encryption.required);
        this.#phase = "refused-plaintext";
        return;
      }
      respond(Encryption.notSupported);
      this.#phase = "login7";
      return;
    }
    // ENCRYPT_ON / ENCRYPT_REQ (and ENCRYPT_OFF, which Azure upgrades): full encryption.
    respond(clientEncryption === Encryption.off ? Encryption.required : Encryption.on);
    this.#transport.startPreloginTls(this.#settings.secureContext);
    this.#phase = "login7";
  }

  // -------------------------------------------------------------------------------------------
  // LOGIN7 and FEDAUTH

  #onLogin7(message: TdsMessage): void {
    if (message.type !== TdsPacketType.login7) throw new TdsProtocolError("Expected LOGIN7.");
    const login = parseLogin7(message.payload);
    this.#login = login;
    const { serverName } = this.#settings;
    if (!login.fedAuth) {
      this.#report({ accepted: false, reason: "invalid", user: login.userName });
      const message = login.userName
        ? `Login failed for user '${login.userName}'. Reason: Azure Active Directory only authentication is enabled. Please contact your system administrator.`
        : "Login failed. The login is from an untrusted domain and cannot be used with Integrated authentication.";
      this.#refuse([
        buildErrorToken({ number: login.userName ? 18456 : 18452, state: 1, class: 14, message, serverName }),
        buildDone({ status: DoneStatus.error }),
      ]);
      return;
    }
    if (login.fedAuth.library === "securitytoken") {
      this.#authorize(login.fedAuth.token);
      return;
    }
    // ADAL: tell the client where to get a token and for which resource; it answers FEDAUTH_TOKEN.
    this.#phase = "fedauth-token";
    this.#send(
      TdsPacketType.tabularResult,
      buildFedAuthInfo({
        stsUrl: `https://login.microsoftonline.com/${this.#settings.options.tenantId}/`,
        spn: SQL_FEDAUTH_SPN,
      }),
    );
  }

  #authorize(token: string): void {
    this.#phase = "authorizing";
    this.#decide(token).catch(() => this.destroy());
  }

  async #decide(token: string): Promise<void> {
    const login = this.#login as Login7Request;
    let decision: SqlLoginDecision;
    try {
      decision = await this.#settings.options.authorize({
        token,
        database: login.database,
        remoteAddress: this.#remoteAddress,
      });
    } catch {
      decision = { ok: false, reason: "invalid" };
    }
    if (this.#phase !== "authorizing") return;
    const { serverName, options } = this.#settings;
    if (!decision.ok) {
      this.#report({ accepted: false, reason: decision.reason, user: "" });
      this.#refuse([
        buildErrorToken(sqlServerRejectionError(decision.reason, serverName)),
        buildDone({ status: DoneStatus.error }),
      ]);
      return;
    }
    if (login.database && login.database.toLowerCase() !== options.database.toLowerCase()) {
      this.#report({ accepted: false, reason: "database", user: decision.user });
      this.#refuse([
        buildErrorToken({
          number: 4060,
          state: 1,
          class: 11,
          message: `Cannot open database "${login.database}" requested by the login. The login failed.`,
          serverName,
        }),
        buildErrorToken({
          number: 18456,
          state: 1,
          class: 14,
          message: `Login failed for user '${decision.user}'.`,
          serverName,
        }),
        buildDone({ status: DoneStatus.error }),
      ]);
      return;
    }
    this.#session = { user: decision.user, login: decision.login };
    this.#sendLoginResponse(login);
    this.#phase = "ready";
    clearTimeout(this.#timer);
    this.#timer = undefined;
    this.#transport.maxMessageLength = this.#settings.limits.maxRequestLength;
    this.#report({ accepted: true, user: decision.user });
    // Requests the client pipelined after its login (rare) are waiting in the reader.
    this.#transport.drain();
  }

  #sendLoginResponse(login: Login7Request): void {
    const { options, serverName } = this.#settings;
    const packetSize =
      login.packetSize === 0
        ? TDS_DEFAULT_PACKET_SIZE
        : Math.min(Math.max(login.packetSize, TDS_MIN_PACKET_SIZE), TDS_MAX_PACKET_SIZE);
    const features: Array<[number, Buffer]> = [];
    if (login.fedAuth) features.push([FeatureId.fedAuth, Buffer.alloc(0)]);
    if (login.features.includes(FeatureId.utf8Support))
      features.push([FeatureId.utf8Support, Buffer.from([1])]);
    const tokens = [
      buildEnvChangeText(EnvChangeType.database, options.database, "master"),
      buildInfoToken({
        number: 5701,
        state: 2,
        class: 0,
        message: `Changed database context to '${options.database}'.`,
        serverName,
      }),
      buildEnvChangeBytes(EnvChangeType.collation, DEFAULT_COLLATION, Buffer.alloc(0)),
      buildEnvChangeText(EnvChangeType.language, "us_english", ""),
      buildInfoToken({
        number: 5703,
        state: 1,
        class: 0,
        message: "Changed language setting to us_english.",
        serverName,
      }),
      buildLoginAck({
        tdsVersion: TDS_VERSION_7_4,
        progName: "Microsoft SQL Server",
        version: SQL_SERVER_PRELOGIN_VERSION,
      }),
      buildEnvChangeText(EnvChangeType.packetSize, String(packetSize), String(TDS_DEFAULT_PACKET_SIZE)),
      buildFeatureExtAck(features),
      buildDone(),
    ];
    this.#send(TdsPacketType.tabularResult, Buffer.concat(tokens));
    this.#transport.packetSize = packetSize;
  }

  // -------------------------------------------------------------------------------------------
  // Requests

  #onRequest(message: TdsMessage): void {
    if (message.type === TdsPacketType.attention) {
      // A pending WAITFOR is cut short: its response message ends with a bare DONE, then the
      // acknowledgement (DONE with ATTN) follows as its own message, as SQL Server does.
      if (this.#pending) {
        clearTimeout(this.#pending);
        this.#pending = undefined;
        this.#send(TdsPacketType.tabularResult, buildDone());
      }
      this.#send(TdsPacketType.tabularResult, buildDone({ status: DoneStatus.attention }));
      return;
    }
    if (this.#pending) throw new TdsProtocolError("A request arrived while another one runs.");
    if (message.ignored) {
      // The client canceled while sending: answer the abandoned message with an empty DONE.
      this.#send(TdsPacketType.tabularResult, buildDone());
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
      case TdsPacketType.transactionManager: {
        const request = parseTransactionManagerRequest(message.payload);
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
          this.#send(
            TdsPacketType.tabularResult,
            Buffer.concat([
              ...prefix,
              buildErrorToken({
                number: 40517,
                state: 1,
                class: 16,
                message:
                  "Keyword or statement option 'distributed transactions' is not supported in this version of SQL Server.",
                serverName: this.#settings.serverName,
              }),
              buildDone({ status: DoneStatus.error }),
            ]),
          );
          return;
        }
        this.#send(
          TdsPacketType.tabularResult,
          Buffer.concat([...prefix, ...this.#transactionTokens(effect), buildDone()]),
        );
        return;
      }
      default:
        throw new TdsProtocolError(`Unsupported message type ${message.type}.`);
    }
  }

  #sqlSession(parameters?: ReadonlyMap<string, RpcValue>): SqlSession {
    const session = this.#session as { user: string; login: string };
    return {
      user: session.user,
      login: session.login,
      database: this.#settings.options.database,
      spid: this.#spid,
      serverName: this.#settings.serverName,
      transactionCount: this.#transactionCount,
      parameters,
    };
  }

  /** Sends the response now, or after the outcome's `WAITFOR DELAY` unless ATTENTION comes first. */
  #respond(outcome: SqlOutcome | undefined, tokens: Buffer[]): void {
    const payload = Buffer.concat(tokens);
    if (!outcome?.delayMs) {
      this.#send(TdsPacketType.tabularResult, payload);
      return;
    }
    this.#pending = setTimeout(() => {
      this.#pending = undefined;
      try {
        this.#send(TdsPacketType.tabularResult, payload);
        this.#transport.drain();
      } catch {
        this.destroy();
      }
    }, outcome.delayMs);
  }

  #rpcTokens(payload: Buffer): { outcome?: SqlOutcome; tokens: Buffer[] } {
    const request = parseRpcRequest(payload);
    const name = request.procName?.toLowerCase().replace(/^(?:\[?sys\]?\.)?\[?(.*?)\]?$/, "$1");
    const serverName = this.#settings.serverName;
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

  // -------------------------------------------------------------------------------------------
  // Ending

  /** Sends the tokens, then ends the connection (destroying it if the client lingers). */
  #refuse(tokens: Buffer[]): void {
    if (this.#phase === "closing" || this.#phase === "closed") return;
    this.#send(TdsPacketType.tabularResult, Buffer.concat(tokens));
    this.#phase = "closing";
    this.#transport.end();
    const timer = setTimeout(() => this.destroy(), this.#settings.limits.lingerInMs);
    timer.unref();
  }

  #reportTlsRejection(): void {
    if (this.#tlsRejectionReported) return;
    this.#tlsRejectionReported = true;
    this.#report({ accepted: false, reason: "tls-required", user: "" });
  }

  #report(event: { accepted: boolean; reason?: LoginRejectionReason | "database"; user: string }): void {
    try {
      this.#settings.options.onLogin?.(event);
    } catch {
      // A failing observer must not break the login.
    }
  }
}

function normalizeAddress(address: string | undefined): string {
  if (address === undefined) return "unknown";
  return address.startsWith("::ffff:") ? address.slice("::ffff:".length) : address;
}

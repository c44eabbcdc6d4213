import type { SecureContext } from "node:tls";
import {
  buildDone,
  buildEnvChangeBytes,
  buildEnvChangeText,
  buildErrorToken,
  buildFeatureExtAck,
  buildFedAuthInfo,
  buildInfoToken,
  buildLoginAck,
  buildPreloginResponse,
  DEFAULT_COLLATION,
  DoneStatus,
  Encryption,
  EnvChangeType,
  FeatureId,
  type Login7Request,
  parseFedAuthToken,
  parseLogin7,
  parsePrelogin,
  type SessionLifetime,
  TDS_DEFAULT_PACKET_SIZE,
  TDS_MAX_PACKET_SIZE,
  TDS_MIN_PACKET_SIZE,
  TDS_VERSION_7_4,
  type TdsMessage,
  type TdsMessageFields,
  TdsPacketType,
  TdsProtocolError,
} from "@org/entra-wire";
import type { LoginRejectionReason, SqlLoginDecision, SqlLoginRequest } from "../authorize-login.js";
import { AZURE_SQL_PRODUCT_VERSION } from "./tds-sql.js";
import type { TdsTransport } from "./tds-transport.js";

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

/** Why the endpoint refused a login: a token or TLS reason, or another database than its own. */
export type SqlRefusalReason = LoginRejectionReason | "database";

/** Azure SQL's error number when a request arrives on a session whose login token has expired. */
export const SESSION_TOKEN_EXPIRED_ERROR = 37396;

/**
 * The ERROR token Azure SQL Database sends when a request arrives on a session whose access token
 * has expired (error 37396; class 14 and state 1 are our choice, Azure's are undocumented); the
 * session then ends.
 */
export function sessionTokenExpiredError(serverName = "emulated-sql"): TdsMessageFields {
  return {
    number: SESSION_TOKEN_EXPIRED_ERROR,
    state: 1,
    class: 14,
    message:
      "Query cannot be executed, access token is expired. Please login with a new access token and execute query again.",
    serverName,
  };
}

/**
 * The ERROR token Azure SQL Database sends for a refused Entra login: 18456, class 14, with the
 * `<token-identified principal>` placeholder (state 233 for an expired token, 1 otherwise).
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

/** What a {@link TdsLogin} needs from its endpoint. */
export interface TdsLoginSettings {
  /** The endpoint's options; `authorize` is called on them. */
  readonly options: {
    readonly requireTls: boolean;
    readonly database: string;
    readonly tenantId: string;
    authorize(request: SqlLoginRequest): SqlLoginDecision | Promise<SqlLoginDecision>;
  };
  /** Server name in ERROR and INFO tokens. */
  readonly serverName: string;
  /** The certificate for TLS inside PRELOGIN. */
  readonly secureContext: SecureContext;
}

/** Who a session runs as once the login succeeded. */
export interface TdsIdentity {
  /** The database user (`CURRENT_USER`). */
  readonly user: string;
  /** The token's principal name (`SUSER_SNAME()`). */
  readonly login: string;
  /** When the login's token expires (its `exp`, epoch milliseconds); undefined when unknown. */
  readonly expiresOnTimestamp?: number;
}

/** The connection a {@link TdsLogin} belongs to. */
export interface TdsLoginConnection {
  readonly transport: TdsTransport;
  readonly lifetime: SessionLifetime<SqlRefusalReason>;
  /** The client's address, for `authorize`. */
  readonly remoteAddress: string;
  /** The login succeeded and LOGINACK was sent: requests come next. */
  loggedIn(identity: TdsIdentity): void;
}

type Phase = "prelogin" | "login7" | "fedauth-token" | "authorizing" | "refused-plaintext" | "logged-in";

/**
 * The login of one Azure SQL (TDS) connection, as Azure SQL Database does it with Microsoft Entra
 * authentication: answers PRELOGIN (encryption, FEDAUTHREQUIRED; TLS inside PRELOGIN when the client
 * encrypts), reads LOGIN7 with the FEDAUTH feature extension (SECURITYTOKEN, or ADAL with the
 * FEDAUTHINFO -> FEDAUTH_TOKEN exchange), lets `authorize` decide (a throw counts as `invalid`), then
 * sends LOGINACK with its environment changes, or refuses with Azure's errors.
 *
 * @example
 * const login = new TdsLogin(settings, { transport, lifetime, remoteAddress, loggedIn: (identity) => startRequests(identity) });
 * // while login.accepting: login.handle(message)
 */
export class TdsLogin {
  readonly #settings: TdsLoginSettings;
  readonly #connection: TdsLoginConnection;
  #phase: Phase = "prelogin";
  #fedAuthRequested = false;
  #login: Login7Request | undefined;
  #tlsRejectionReported = false;

  constructor(settings: TdsLoginSettings, connection: TdsLoginConnection) {
    this.#settings = settings;
    this.#connection = connection;
  }

  /** False while `authorize` runs: later messages wait in the transport. */
  get accepting(): boolean {
    return this.#phase !== "authorizing";
  }

  /** Handles one login message; throws on a message the login does not expect. */
  handle(message: TdsMessage): void {
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
      default:
        throw new TdsProtocolError(`Unexpected message in phase ${this.#phase}.`);
    }
  }

  /** The connection is gone: a client that left after ENCRYPT_REQ counts as refused for `tls-required`. */
  closed(): void {
    if (this.#phase === "refused-plaintext") this.#reportTlsRejection();
  }

  #send(payload: Buffer): void {
    this.#connection.transport.send(TdsPacketType.tabularResult, payload);
  }

  #onPrelogin(message: TdsMessage): void {
    if (message.type !== TdsPacketType.prelogin) throw new TdsProtocolError("Expected PRELOGIN.");
    const { transport } = this.#connection;
    const prelogin = parsePrelogin(message.payload);
    this.#fedAuthRequested = prelogin.fedAuthRequired !== undefined;
    const respond = (encryption: number) =>
      this.#send(
        buildPreloginResponse({
          version: SQL_SERVER_PRELOGIN_VERSION,
          encryption,
          fedAuthRequired: this.#fedAuthRequested,
        }),
      );
    if (transport.encrypted) {
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
    transport.startPreloginTls(this.#settings.secureContext);
    this.#phase = "login7";
  }

  #onLogin7(message: TdsMessage): void {
    if (message.type !== TdsPacketType.login7) throw new TdsProtocolError("Expected LOGIN7.");
    const login = parseLogin7(message.payload);
    this.#login = login;
    const { serverName } = this.#settings;
    if (!login.fedAuth) {
      this.#connection.lifetime.report({ accepted: false, reason: "invalid", user: login.userName });
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
      buildFedAuthInfo({
        stsUrl: `https://login.microsoftonline.com/${this.#settings.options.tenantId}/`,
        spn: SQL_FEDAUTH_SPN,
      }),
    );
  }

  #authorize(token: string): void {
    this.#phase = "authorizing";
    this.#decide(token).catch(() => this.#connection.lifetime.destroy());
  }

  async #decide(token: string): Promise<void> {
    const { lifetime, remoteAddress, transport } = this.#connection;
    const login = this.#login as Login7Request;
    let decision: SqlLoginDecision;
    try {
      decision = await this.#settings.options.authorize({ token, database: login.database, remoteAddress });
    } catch {
      decision = { ok: false, reason: "invalid" };
    }
    if (lifetime.closing) return;
    const { serverName, options } = this.#settings;
    if (!decision.ok) {
      lifetime.report({ accepted: false, reason: decision.reason, user: "" });
      this.#refuse([
        buildErrorToken(sqlServerRejectionError(decision.reason, serverName)),
        buildDone({ status: DoneStatus.error }),
      ]);
      return;
    }
    if (login.database && login.database.toLowerCase() !== options.database.toLowerCase()) {
      lifetime.report({ accepted: false, reason: "database", user: decision.user });
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
    this.#sendLoginResponse(login);
    this.#phase = "logged-in";
    this.#connection.loggedIn({
      user: decision.user,
      login: decision.login,
      expiresOnTimestamp: decision.expiresOnTimestamp,
    });
    lifetime.report({ accepted: true, user: decision.user });
    // Requests the client pipelined after its login (rare) are waiting in the reader.
    transport.drain();
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
    this.#send(Buffer.concat(tokens));
    this.#connection.transport.packetSize = packetSize;
  }

  /** Sends the tokens, then ends the connection (destroying it if the client lingers). */
  #refuse(tokens: Buffer[]): void {
    const { lifetime, transport } = this.#connection;
    lifetime.end(() => {
      transport.send(TdsPacketType.tabularResult, Buffer.concat(tokens));
      transport.end();
    });
  }

  #reportTlsRejection(): void {
    if (this.#tlsRejectionReported) return;
    this.#tlsRejectionReported = true;
    this.#connection.lifetime.report({ accepted: false, reason: "tls-required", user: "" });
  }
}

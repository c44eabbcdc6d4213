import type { Socket } from "node:net";
import {
  buildDone,
  buildErrorToken,
  buildFedAuthInfo,
  buildPreloginResponse,
  DoneStatus,
  Encryption,
  parseLogin7,
  parsePrelogin,
  type TdsMessage,
  TdsPacketType,
  TdsProtocolError,
} from "@org/entra-wire";
import { SQL_FEDAUTH_SPN, SQL_SERVER_PRELOGIN_VERSION, sqlServerRejectionError } from "../tds/tds-login.js";
import { TdsTransport } from "../tds/tds-transport.js";
import { defaultTenantId } from "../token-issuer.js";
import { ConnectionLifetime } from "./connection-lifetime.js";
import { type HostileConnectionContext, presentsTls } from "./hostile-connection-context.js";

type Phase = "prelogin" | "login7" | "fedauth-token" | "refused";

/** Largest PRELOGIN/LOGIN7/FEDAUTH_TOKEN message read, as the endpoint's default. */
const MAX_LOGIN_MESSAGE_LENGTH = 256 * 1024;

/** The ENCRYPTION a classic (TDS 7.x) PRELOGIN is answered with, per mode. */
const PRELOGIN_ENCRYPTION = {
  "wrong-host": Encryption.on,
  "untrusted-certificate": Encryption.on,
  "tls-stripped": Encryption.notSupported,
  "cleartext-first": Encryption.off,
} as const;

/**
 * One client of a hostile Azure SQL (TDS) server: TDS 8 strict TLS or a classic PRELOGIN answered per
 * mode (TLS inside PRELOGIN with the mode's certificate, ENCRYPT_NOT_SUP, or ENCRYPT_OFF), then
 * LOGIN7 with the FEDAUTH token, or FEDAUTHINFO and the FEDAUTH_TOKEN message, then error 18456.
 */
export class HostileTdsConnection {
  readonly #context: HostileConnectionContext;
  readonly #lifetime: ConnectionLifetime;
  readonly #transport: TdsTransport;
  #phase: Phase = "prelogin";

  constructor(raw: Socket, context: HostileConnectionContext, forget: () => void) {
    this.#context = context;
    this.#transport = new TdsTransport(
      raw,
      { maxMessageLength: MAX_LOGIN_MESSAGE_LENGTH, spid: 0 },
      {
        strict: () => this.#onStrict(),
        message: (message) => this.#handle(message),
        accepting: () => this.#phase !== "refused",
        received: (chunk) => this.#lifetime.received(chunk),
        closed: () => this.destroy(),
      },
    );
    this.#lifetime = new ConnectionLifetime(
      context,
      forget,
      () => (this.#phase === "prelogin" ? this.destroy() : this.#refuse()),
      () => this.#transport.destroy(),
    );
  }

  /** Destroys the connection. Idempotent. */
  destroy(): void {
    this.#lifetime.destroy();
  }

  #onStrict(): void {
    if (presentsTls(this.#context.mode)) {
      this.#transport.startStrictTls(this.#context.secureContext);
      return;
    }
    // A TLS ClientHello cannot be answered without TLS: a plaintext PRELOGIN response, then close.
    this.#sendPreloginResponse(Encryption.notSupported, false);
    this.#phase = "refused";
    this.#transport.end();
    this.#lifetime.refused();
  }

  #handle(message: TdsMessage): void {
    if (this.#phase === "prelogin") this.#onPrelogin(message);
    else if (this.#phase === "login7") this.#onLogin7(message);
    // The FEDAUTH_TOKEN (or anything else): the token, if any, is recorded.
    else this.#refuse();
  }

  #onPrelogin(message: TdsMessage): void {
    if (message.type !== TdsPacketType.prelogin) throw new TdsProtocolError("Expected PRELOGIN.");
    const prelogin = parsePrelogin(message.payload);
    const fedAuthRequired = prelogin.fedAuthRequired !== undefined;
    this.#phase = "login7";
    if (this.#transport.encrypted) {
      this.#sendPreloginResponse(prelogin.encryption ?? Encryption.notSupported, fedAuthRequired);
      return;
    }
    const encryption = PRELOGIN_ENCRYPTION[this.#context.mode];
    this.#sendPreloginResponse(encryption, fedAuthRequired);
    if (encryption === Encryption.on) this.#transport.startPreloginTls(this.#context.secureContext);
  }

  #sendPreloginResponse(encryption: number, fedAuthRequired: boolean): void {
    this.#transport.send(
      TdsPacketType.tabularResult,
      buildPreloginResponse({ version: SQL_SERVER_PRELOGIN_VERSION, encryption, fedAuthRequired }),
    );
  }

  #onLogin7(message: TdsMessage): void {
    if (message.type === TdsPacketType.prelogin && !this.#transport.encrypted) {
      // After ENCRYPT_OFF a client may still encrypt (at least its LOGIN7): complete its handshake.
      this.#transport.startPreloginTls(this.#context.secureContext, message.payload);
      return;
    }
    if (message.type !== TdsPacketType.login7) throw new TdsProtocolError("Expected LOGIN7.");
    const login = parseLogin7(message.payload);
    if (login.fedAuth?.library !== "adal") {
      // SECURITYTOKEN: the token was inside LOGIN7. SQL or integrated logins: nothing to wait for.
      this.#refuse();
      return;
    }
    this.#phase = "fedauth-token";
    this.#transport.send(
      TdsPacketType.tabularResult,
      buildFedAuthInfo({
        stsUrl: `https://login.microsoftonline.com/${defaultTenantId}/`,
        spn: SQL_FEDAUTH_SPN,
      }),
    );
  }

  #refuse(): void {
    if (this.#lifetime.finished) return;
    this.#phase = "refused";
    this.#transport.send(
      TdsPacketType.tabularResult,
      Buffer.concat([
        buildErrorToken(sqlServerRejectionError("principal")),
        buildDone({ status: DoneStatus.error }),
      ]),
    );
    this.#transport.end();
    this.#lifetime.refused();
  }
}

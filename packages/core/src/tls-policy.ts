import { checkServerIdentity, type PeerCertificate } from "node:tls";
import { EntraAuthError } from "./entra-auth-error.js";
import { logger } from "./logger.js";

/** An insecure TLS setting found in a driver config, the process environment or a live connection. */
export interface TlsFinding {
  /** The setting, e.g. `ssl`, `options.trustServerCertificate` or `NODE_TLS_REJECT_UNAUTHORIZED`. */
  readonly setting: string;
  /** What is wrong, e.g. `disables TLS` or `disables certificate verification`. */
  readonly problem: string;
  /** What to change, when it is specific to the setting; {@link assertSecureTls} otherwise gives the general fix. */
  readonly fix?: string;
  /** How the error message names what was found. Defaults to `The setting <setting>`. */
  readonly subject?: string;
}

/** Options for {@link inspectTlsValue}. */
export interface InspectTlsOptions {
  /** The driver sends no TLS when the setting is absent, so `undefined`/`null` is insecure. Defaults to `false`. */
  readonly absentMeansOff?: boolean;
}

const OFF_STRINGS = new Set(["disable", "allow", "prefer", "false", "0", "off"]);
const NO_VERIFY_STRINGS = new Set(["no-verify"]);

/**
 * Recognises an insecure TLS value of a driver setting: `false`, absent (when the driver then
 * sends no TLS, see `absentMeansOff`), sslmode strings `disable`/`allow`/`prefer`/`no-verify`,
 * and objects with `rejectUnauthorized: false` or their own `checkServerIdentity` (which replaces
 * Node's host name check, so a certificate for any other name would be accepted).
 *
 * @example
 * ```ts
 * assertSecureTls(inspectTlsValue(config.ssl, "ssl"), { allowInsecure });
 * ```
 *
 * @returns The finding, or `undefined` for `true`, verifying objects and other strings.
 */
export function inspectTlsValue(
  value: unknown,
  setting: string,
  options: InspectTlsOptions = {},
): TlsFinding | undefined {
  if (value === undefined || value === null) {
    return options.absentMeansOff
      ? {
          setting,
          problem: "is not set, so TLS is off",
          fix: `Set ${setting} to true (or { ca } for a private CA).`,
        }
      : undefined;
  }
  if (value === false) return { setting, problem: "disables TLS" };
  if (typeof value === "string") {
    const lower = value.trim().toLowerCase();
    if (OFF_STRINGS.has(lower)) return { setting, problem: `"${lower}" allows connections without TLS` };
    if (NO_VERIFY_STRINGS.has(lower))
      return { setting, problem: `"${lower}" disables certificate verification` };
    return undefined;
  }
  if (typeof value === "object") {
    const tls = value as { rejectUnauthorized?: unknown; checkServerIdentity?: unknown };
    if (tls.rejectUnauthorized === false) {
      return {
        setting: `${setting}.rejectUnauthorized`,
        problem: "disables certificate verification",
        fix: `Remove ${setting}.rejectUnauthorized; for a private CA pass ${setting}.ca or set NODE_EXTRA_CA_CERTS.`,
      };
    }
    if (tls.checkServerIdentity !== undefined) {
      return {
        setting: `${setting}.checkServerIdentity`,
        problem: "replaces the check that the certificate was issued for the server's host name",
        fix: `Remove ${setting}.checkServerIdentity: the host name is checked by default. To connect through an IP address or a private endpoint, set ${setting}.servername to the server's name instead.`,
      };
    }
  }
  return undefined;
}

/**
 * Recognises insecure tedious/mssql encryption options: `encrypt: false` or
 * `trustServerCertificate: true`. `encrypt: "strict"` (TDS 8) is secure; so is `encrypt: true`
 * once the adapters have turned it into `"strict"` (see {@link secureSqlEncryption}).
 *
 * @example
 * ```ts
 * assertSecureTls(inspectSqlEncryption(config.options ?? {}), { allowInsecure });
 * ```
 *
 * @returns The finding, or `undefined` when neither setting turns verification off.
 */
export function inspectSqlEncryption(options: {
  readonly encrypt?: unknown;
  readonly trustServerCertificate?: unknown;
}): TlsFinding | undefined {
  if (options.encrypt === false) {
    return {
      setting: "options.encrypt",
      problem: "disables TLS",
      fix: 'Remove options.encrypt (the default is "strict", TDS 8 with a verified certificate).',
    };
  }
  if (options.trustServerCertificate === true) {
    return {
      setting: "options.trustServerCertificate",
      problem: "disables certificate verification",
      fix: "Remove options.trustServerCertificate; for a private CA pass options.cryptoCredentialsDetails: { ca }.",
    };
  }
  return undefined;
}

/**
 * The `encrypt` value the SQL adapters give tedious: `"strict"` (TDS 8: TLS before the first
 * byte, certificate and host name verified) unless the caller allows insecure transport.
 * `encrypt: true` (what `Encrypt=True` in Azure's connection strings means) is upgraded too:
 * with it tedious lets the server's PRELOGIN answer decide, so a machine in the middle answering
 * "encryption not supported" would receive the login, token included, in clear.
 *
 * @example
 * ```ts
 * strictSqlEncryption(true, { allowInsecure: false }); // "strict"
 * strictSqlEncryption(true, { allowInsecure: true }); // true (kept, with a warning)
 * ```
 *
 * @returns `"strict"`, or with `allowInsecure` the given value (`"strict"` when absent).
 */
export function strictSqlEncryption(
  encrypt: unknown,
  options: { readonly allowInsecure?: boolean } = {},
): unknown {
  if (encrypt === undefined || encrypt === null || encrypt === "strict") return "strict";
  if (options.allowInsecure !== true) return encrypt === true ? "strict" : encrypt;
  if (encrypt === true) {
    logger.warning(
      'options.encrypt is true, which lets the server decide whether to encrypt the login; keeping it because allowInsecure is true. Use "strict" to require TLS.',
    );
  }
  return encrypt;
}

/**
 * The tedious encryption options the SQL adapters use, after refusing insecure ones: `encrypt` is
 * `"strict"` (TDS 8; `encrypt: true` is upgraded to it too, since with `true` the server's PRELOGIN
 * answer decides whether the login is encrypted) and `trustServerCertificate` `false` unless given.
 * `encrypt: false`, `trustServerCertificate: true` and `NODE_TLS_REJECT_UNAUTHORIZED=0` throw
 * `EntraAuthError` (`INSECURE_TRANSPORT`) unless `allowInsecure` is `true`.
 *
 * @example
 * ```ts
 * const { encrypt, trustServerCertificate } = secureSqlEncryption(config.options ?? {}, { allowInsecure });
 * ```
 */
export function secureSqlEncryption(
  given: { readonly encrypt?: unknown; readonly trustServerCertificate?: unknown },
  options: { readonly allowInsecure?: boolean } = {},
): {
  /** `"strict"`, or with `allowInsecure` the given value (`"strict"` when absent). */
  readonly encrypt: unknown;
  /** The given value, `false` when absent. */
  readonly trustServerCertificate: unknown;
} {
  const trustServerCertificate = given.trustServerCertificate ?? false;
  const allowInsecure = options.allowInsecure === true;
  assertSecureTls(inspectSqlEncryption({ encrypt: given.encrypt, trustServerCertificate }), {
    allowInsecure,
  });
  return { encrypt: strictSqlEncryption(given.encrypt, { allowInsecure }), trustServerCertificate };
}

/**
 * Recognises a process environment that turns off certificate verification for every TLS
 * connection whose options do not say otherwise: `NODE_TLS_REJECT_UNAUTHORIZED=0`.
 *
 * @example
 * ```ts
 * assertSecureTls(inspectTlsEnvironment(process.env), { allowInsecure });
 * ```
 *
 * @param env - The environment Node.js reads. Defaults to `process.env`.
 * @returns The finding, or `undefined` when verification is on.
 */
export function inspectTlsEnvironment(env: NodeJS.ProcessEnv = process.env): TlsFinding | undefined {
  if (env.NODE_TLS_REJECT_UNAUTHORIZED !== "0") return undefined;
  return {
    setting: "NODE_TLS_REJECT_UNAUTHORIZED=0",
    problem: "turns off certificate verification for every TLS connection of this process",
    fix: "Unset NODE_TLS_REJECT_UNAUTHORIZED; for a private CA set NODE_EXTRA_CA_CERTS to its PEM file or pass { ca } in the TLS options.",
  };
}

/** The parts of a connected socket that {@link inspectTlsPeer} reads (a `tls.TLSSocket`). */
export interface TlsPeerSocket {
  /** `true` on a TLS socket; anything else counts as a connection in clear. */
  readonly encrypted?: boolean;
  /** `true` when the server's certificate chain was verified against the trusted CAs. */
  readonly authorized?: boolean;
  /** Why the certificate chain was not verified, quoted in the finding. */
  readonly authorizationError?: Error | string | null;
  /** The server's certificate, whose names are checked against `serverName`; an empty object when there is none. */
  getPeerCertificate?(detailed?: boolean): PeerCertificate | Record<string, never>;
  /** `true` for a resumed TLS session, which shows no certificate: its name is not checked again. */
  isSessionReused?(): boolean;
}

/**
 * Checks a live connection just before a token is written to it: the socket must be TLS, its
 * certificate chain must have been verified (`authorized`), and the certificate must name
 * `serverName`. A resumed TLS session (mysql2 resumes sessions it verified before) shows no
 * certificate; only the server that issued it can resume it, so its name is not checked again. Adapters whose driver lets them see the socket (pg, mysql2) call it in their
 * password hook, so a token never reaches a server that was not verified, whatever the config or
 * the process environment said.
 *
 * @example
 * ```ts
 * assertSecureTls(inspectTlsPeer(client.connection.stream, client.host), { allowInsecure });
 * ```
 *
 * @param socket - The socket the driver is about to write the token to.
 * @param serverName - The name the certificate must carry (the TLS `servername` or host); an IP
 *   address is matched against the certificate's IP addresses.
 * @returns The finding, or `undefined` when the peer was verified.
 */
export function inspectTlsPeer(socket: unknown, serverName: string | undefined): TlsFinding | undefined {
  const peer = socket as TlsPeerSocket | undefined;
  if (peer?.encrypted !== true || typeof peer.getPeerCertificate !== "function") {
    return {
      setting: "connection",
      subject: "The connection",
      problem: "is not encrypted, so the token would travel in clear",
      fix: "Leave TLS on (it is the default) and connect to the server's TLS port.",
    };
  }
  if (peer.authorized !== true) {
    const reason = peer.authorizationError ? ` (${String(peer.authorizationError)})` : "";
    return {
      setting: "server certificate",
      subject: "The server certificate",
      problem: `was not verified${reason}`,
      fix: "Trust the server's CA (NODE_EXTRA_CA_CERTS or { ca }) and leave certificate verification on.",
    };
  }
  if (serverName && peer.isSessionReused?.() !== true) {
    const certificate = peer.getPeerCertificate(false);
    const mismatch = checkServerIdentity(serverName, certificate as PeerCertificate);
    if (mismatch) {
      return {
        setting: "server certificate",
        subject: "The server certificate",
        problem: `does not name "${serverName}" (${mismatch.message})`,
        fix: "Connect with the server's own host name (or set servername to it).",
      };
    }
  }
  return undefined;
}

/** Options of {@link assertSecureTls}. */
export interface AssertSecureTlsOptions {
  /** Log a warning instead of throwing. Defaults to `false`. */
  readonly allowInsecure?: boolean;
  /** The environment whose `NODE_TLS_REJECT_UNAUTHORIZED` is checked. Defaults to `process.env`. */
  readonly processEnv?: NodeJS.ProcessEnv;
}

/**
 * Throws `EntraAuthError` code `INSECURE_TRANSPORT` for a finding, or, when there is none, for a
 * process environment with `NODE_TLS_REJECT_UNAUTHORIZED=0` ({@link inspectTlsEnvironment}),
 * because a token is a bearer credential and must only travel over TLS whose certificate chain
 * and host name are verified. The message names the setting; the hint says what to change. With
 * `allowInsecure: true` it logs a warning instead.
 *
 * @example
 * ```ts
 * assertSecureTls(inspectTlsValue(false, "ssl"), {}); // throws INSECURE_TRANSPORT
 * assertSecureTls(undefined, {}); // throws only if NODE_TLS_REJECT_UNAUTHORIZED=0
 * ```
 */
export function assertSecureTls(finding: TlsFinding | undefined, options: AssertSecureTlsOptions = {}): void {
  const found = finding ?? inspectTlsEnvironment(options.processEnv ?? process.env);
  if (!found) return;
  const subject = found.subject ?? `The setting ${found.setting}`;
  const message = `${subject} ${found.problem}; an Entra access token must only be sent over TLS with certificate and host name verification.`;
  if (options.allowInsecure === true) {
    logger.warning(`${message} Continuing because allowInsecure is true.`);
    return;
  }
  const fix =
    found.fix ??
    `Remove ${found.setting} or set it to true (verified TLS is the default); pass { ca } for a private CA.`;
  throw new EntraAuthError("INSECURE_TRANSPORT", message, {
    hint: `${fix} (allowInsecure: true skips this check, for local testing only.)`,
  });
}

import type { SecureContext } from "node:tls";
import type { MysqlPersona } from "../mysql/mysql-persona.js";

/**
 * How a hostile server tries to get the token: `wrong-host` presents a certificate the client's CA
 * signed for another name; `untrusted-certificate` a self-signed one for `localhost`; `tls-stripped`
 * refuses TLS; `cleartext-first` asks for the password before any TLS.
 */
export type HostileMode = "wrong-host" | "untrusted-certificate" | "tls-stripped" | "cleartext-first";

/** What one impersonating connection needs from its server. */
export interface HostileConnectionContext {
  readonly mode: HostileMode;
  /** MySQL: what the greeting claims to be. */
  readonly persona: MysqlPersona;
  /** The certificate this server presents wherever it completes TLS. */
  readonly secureContext: SecureContext;
  /** A connection that sends nothing for this long gets the authentication failure and is closed. */
  readonly idleTimeoutInMs: number;
  /** 1 for the first connection since start or reset; also the MySQL thread id offset. */
  readonly connectionNumber: number;
  /** Records bytes the client sent (raw before TLS, decrypted after). */
  capture(chunk: Buffer): void;
}

/** Whether the mode completes TLS with its certificate when a client asks for it. */
export function presentsTls(mode: HostileMode): boolean {
  return mode === "wrong-host" || mode === "untrusted-certificate";
}

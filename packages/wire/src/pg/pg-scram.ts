import { createHash, createHmac, pbkdf2Sync, timingSafeEqual } from "node:crypto";

/** The SASL mechanism the gateway uses toward the backend (no channel binding: the backend link is plain TCP). */
export const SCRAM_SHA_256 = "SCRAM-SHA-256";

/** State kept between the client-first and the client-final SCRAM messages. */
export interface ScramClientFirst {
  /** The message to send in SASLInitialResponse (`n,,n=<user>,r=<nonce>`). */
  readonly message: string;
  /** The message without its GS2 header (`n=<user>,r=<nonce>`), the start of the SCRAM AuthMessage. */
  readonly clientFirstBare: string;
  /** The client nonce, which the server's nonce must extend. */
  readonly clientNonce: string;
}

/**
 * Builds the SCRAM-SHA-256 client-first message. `user` defaults to `*` (PostgreSQL ignores it and
 * uses the startup user); the nonce is injected so the exchange is testable.
 *
 * @example
 * const first = createScramClientFirst(randomBytes(18).toString("base64"));
 */
export function createScramClientFirst(clientNonce: string, user = "*"): ScramClientFirst {
  const clientFirstBare = `n=${user},r=${clientNonce}`;
  return { message: `n,,${clientFirstBare}`, clientFirstBare, clientNonce };
}

/** The client-final message and the server signature the server-final message must carry. */
export interface ScramClientFinal {
  /** The message to send in SASLResponse (`c=biws,r=<nonce>,p=<proof>`). */
  readonly message: string;
  /** Base64 server signature expected in the server-final `v=` attribute. */
  readonly expectedServerSignature: string;
}

/**
 * Computes the SCRAM-SHA-256 client-final message from the server-first message.
 * Throws when the server-first message is malformed or its nonce does not extend the client nonce.
 */
export function computeScramClientFinal(
  first: ScramClientFirst,
  serverFirst: string,
  password: string,
): ScramClientFinal {
  const attributes = parseScramAttributes(serverFirst);
  const serverNonce = attributes.get("r");
  const salt = attributes.get("s");
  const iterations = Number(attributes.get("i"));
  if (serverNonce === undefined || salt === undefined || !Number.isInteger(iterations) || iterations < 1) {
    throw new Error("SCRAM: malformed server-first message");
  }
  if (!serverNonce.startsWith(first.clientNonce) || serverNonce.length === first.clientNonce.length) {
    throw new Error("SCRAM: server nonce does not extend the client nonce");
  }
  const saltedPassword = pbkdf2Sync(password, Buffer.from(salt, "base64"), iterations, 32, "sha256");
  const clientKey = hmac(saltedPassword, "Client Key");
  const storedKey = createHash("sha256").update(clientKey).digest();
  const clientFinalWithoutProof = `c=biws,r=${serverNonce}`;
  const authMessage = `${first.clientFirstBare},${serverFirst},${clientFinalWithoutProof}`;
  const clientSignature = hmac(storedKey, authMessage);
  const proof = Buffer.alloc(clientKey.length);
  for (let i = 0; i < proof.length; i++) proof[i] = (clientKey[i] ?? 0) ^ (clientSignature[i] ?? 0);
  const serverSignature = hmac(hmac(saltedPassword, "Server Key"), authMessage);
  return {
    message: `${clientFinalWithoutProof},p=${proof.toString("base64")}`,
    expectedServerSignature: serverSignature.toString("base64"),
  };
}

/**
 * Checks the server-final message. Throws when it carries an error (`e=`) or a wrong signature.
 */
export function verifyScramServerFinal(serverFinal: string, final: ScramClientFinal): void {
  const attributes = parseScramAttributes(serverFinal);
  const error = attributes.get("e");
  if (error !== undefined) throw new Error(`SCRAM: server error ${error}`);
  const received = Buffer.from(attributes.get("v") ?? "", "base64");
  const expected = Buffer.from(final.expectedServerSignature, "base64");
  if (received.length !== expected.length || !timingSafeEqual(received, expected)) {
    throw new Error("SCRAM: server signature does not match");
  }
}

function parseScramAttributes(message: string): Map<string, string> {
  const attributes = new Map<string, string>();
  for (const part of message.split(",")) {
    const equals = part.indexOf("=");
    if (equals === 1) attributes.set(part.slice(0, 1), part.slice(2));
  }
  return attributes;
}

function hmac(key: Buffer, data: string): Buffer {
  return createHmac("sha256", key).update(data, "utf8").digest();
}

/**
 * Which part of a watched secret arrived: the `whole` secret, or (for a JWT) its `header`,
 * `payload` or `signature` alone.
 */
export type SecretPart = "whole" | "header" | "payload" | "signature";

/** Bytes kept per connection for leak detection; a login never comes close (bytes beyond are counted, not kept). */
export const MAX_CAPTURED_BYTES_PER_CONNECTION = 4 * 1024 * 1024;

/** JWT parts shorter than this are not searched alone: they would match by chance. */
const MIN_PART_LENGTH = 8;

/** Three dot-separated base64url parts; the signature may be empty (an unsigned token). */
const JWT_SHAPE = /^([A-Za-z0-9_-]+)\.([A-Za-z0-9_-]+)\.([A-Za-z0-9_-]*)$/;

interface Needle {
  readonly part: SecretPart;
  readonly utf8: Buffer;
  readonly utf16: Buffer;
}

/**
 * One secret (an access token) to look for in what clients sent, under a printable label. The
 * secret lives only in private fields: `util.inspect` and JSON show the label alone.
 *
 * @example
 * const watch = new SecretWatch(token, "canary");
 * watch.partsIn(Buffer.from(`password=${token}`)); // ["whole", "header", "payload", "signature"]
 */
export class SecretWatch {
  /** Names the secret in leaks. */
  readonly label: string;
  readonly #needles: readonly Needle[];

  /** Throws a `TypeError` for an empty secret. */
  constructor(secret: string, label: string) {
    if (secret.length === 0) throw new TypeError("A watched secret must not be empty.");
    this.label = label;
    const needles: Needle[] = [needle("whole", secret)];
    const jwt = JWT_SHAPE.exec(secret);
    if (jwt) {
      const parts: Array<[SecretPart, string | undefined]> = [
        ["header", jwt[1]],
        ["payload", jwt[2]],
        ["signature", jwt[3]],
      ];
      for (const [part, text] of parts) {
        if (text !== undefined && text.length >= MIN_PART_LENGTH) needles.push(needle(part, text));
      }
    }
    this.#needles = needles;
  }

  /**
   * The parts of the secret found in `received`, in UTF-8 (PostgreSQL, MySQL) or UTF-16LE (TDS)
   * encoding, in the order whole, header, payload, signature. Empty when none is there.
   */
  partsIn(received: Buffer): SecretPart[] {
    return this.#needles
      .filter(({ utf8, utf16 }) => received.includes(utf8) || received.includes(utf16))
      .map(({ part }) => part);
  }
}

function needle(part: SecretPart, text: string): Needle {
  return { part, utf8: Buffer.from(text, "utf8"), utf16: Buffer.from(text, "utf16le") };
}

/**
 * Everything one client sent on one connection (raw bytes before TLS, decrypted bytes after), kept
 * up to a bound so a secret split across chunks is still found. Private: inspecting it shows nothing.
 */
export class ConnectionCapture {
  readonly #limit: number;
  #chunks: Buffer[] = [];
  #captured = 0;
  #received = 0;

  /** `limit` bounds the bytes kept. Defaults to {@link MAX_CAPTURED_BYTES_PER_CONNECTION}. */
  constructor(limit: number = MAX_CAPTURED_BYTES_PER_CONNECTION) {
    this.#limit = limit;
  }

  /** Appends a received chunk (a copy: the caller may reuse its buffer). */
  append(chunk: Buffer): void {
    this.#received += chunk.length;
    const room = this.#limit - this.#captured;
    if (room <= 0 || chunk.length === 0) return;
    const kept = Buffer.from(chunk.subarray(0, room));
    this.#chunks.push(kept);
    this.#captured += kept.length;
  }

  /** Bytes received, including any beyond the bound. */
  get bytesReceived(): number {
    return this.#received;
  }

  /** The kept bytes as one buffer. */
  contents(): Buffer {
    if (this.#chunks.length > 1) this.#chunks = [Buffer.concat(this.#chunks)];
    return this.#chunks[0] ?? Buffer.alloc(0);
  }
}

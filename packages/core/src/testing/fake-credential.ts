import type { AccessToken, GetTokenOptions, TokenCredential } from "@azure/core-auth";
import type { FakeClock } from "./fake-clock.js";

/** What a fake credential call does: return a token, null, throw, or never settle. */
export type FakeAnswer = AccessToken | null | Error | "hang" | Promise<AccessToken | null>;

/** A scripted `TokenCredential`; unscripted calls get a new token living `lifetimeInMs`. */
export class FakeCredential implements TokenCredential {
  calls = 0;
  readonly scopes: string[] = [];
  readonly signals: ({ readonly aborted: boolean } | undefined)[] = [];
  readonly script: FakeAnswer[] = [];
  lifetimeInMs = 3_600_000;
  #serial = 0;

  constructor(readonly clock: FakeClock) {}

  /** A fresh token string and expiry relative to the clock. */
  mint(lifetimeInMs = this.lifetimeInMs, extra: Partial<AccessToken> = {}): AccessToken {
    this.#serial++;
    return { token: `token-${this.#serial}`, expiresOnTimestamp: this.clock.now() + lifetimeInMs, ...extra };
  }

  async getToken(scopes: string | string[], options?: GetTokenOptions): Promise<AccessToken | null> {
    this.calls++;
    this.scopes.push(Array.isArray(scopes) ? scopes.join(" ") : scopes);
    this.signals.push(options?.abortSignal);
    const answer = this.script.length > 0 ? this.script.shift() : this.mint();
    if (answer === "hang") return new Promise(() => {});
    if (answer instanceof Error) throw answer;
    return answer ?? null;
  }
}

/** A promise with its resolve and reject exposed. */
export function deferred<T>(): {
  promise: Promise<T>;
  resolve(value: T): void;
  reject(error: unknown): void;
} {
  let resolve!: (value: T) => void;
  let reject!: (error: unknown) => void;
  const promise = new Promise<T>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  return { promise, resolve, reject };
}

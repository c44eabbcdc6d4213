/**
 * A fault the emulator injects into token requests (of the managed-identity endpoint and of the
 * Entra token endpoint alike). `times` limits how many requests it affects before the endpoints
 * revert to `ok`; without it the fault stays until reset. The emulator starts with `{ mode: "ok" }`:
 * no fault.
 */
export type IdentityFault =
  | {
      /** No fault: answer normally. */
      readonly mode: "ok";
    }
  /** Destroy the socket without a response. */
  | {
      /** Destroy the socket without a response. */
      readonly mode: "down";
      /** How many requests it affects before the endpoint reverts to `ok`. Without it, until reset. */
      readonly times?: number;
    }
  /** Wait `delayInMs`, then answer normally. */
  | {
      /** Wait `delayInMs`, then answer normally. */
      readonly mode: "slow";
      /** How long to wait before answering, in milliseconds. */
      readonly delayInMs: number;
      /** How many requests it affects before the endpoint reverts to `ok`. Without it, until reset. */
      readonly times?: number;
    }
  /** Answer with this HTTP status and a real-looking JSON error (429 and 503 carry `Retry-After`). */
  | {
      /** Answer with `status` and a real-looking JSON error. */
      readonly mode: "status";
      /** The HTTP status to answer with, e.g. 500, 429 or 503. */
      readonly status: number;
      /** The `Retry-After` of a 429 or 503 answer, in seconds. Defaults to 1. */
      readonly retryAfterInSeconds?: number;
      /** How many requests it affects before the endpoint reverts to `ok`. Without it, until reset. */
      readonly times?: number;
    }
  /** Answer 200 with a non-JSON body (`not-json`, the default) or JSON without `access_token`. */
  | {
      /** Answer 200 with a body that is not a token response. */
      readonly mode: "malformed";
      /** `not-json`: a body that is not JSON; `missing-token`: JSON without `access_token`. Defaults to `not-json`. */
      readonly variant?: "not-json" | "missing-token";
      /** How many requests it affects before the endpoint reverts to `ok`. Without it, until reset. */
      readonly times?: number;
    }
  /** Never answer; the socket is destroyed on `close()`. */
  | {
      /** Never answer; the socket is destroyed on `close()`. */
      readonly mode: "timeout";
      /** How many requests it affects before the endpoint reverts to `ok`. Without it, until reset. */
      readonly times?: number;
    };

/**
 * Which protocol a token request used; the request path decides: `appService` (`/msi/token`),
 * `imds` (`/metadata/identity/oauth2/token`) or `entra`, the Entra ID token endpoint
 * (`/{tenant}/oauth2/v2.0/token`) that service principals and workload identities use.
 */
export type IdentityProtocol = "appService" | "imds" | "entra";

/** How a token request ended. */
export type IdentityRequestOutcome = "issued" | "rejected" | "down" | "timeout" | "status" | "malformed";

/** A snapshot of the token-request counters; every counter is zero at start and after `resetCounters()`. */
export interface IdentityEndpointCounters {
  /** Every request to a token path (managed-identity protocols and the Entra token endpoint). */
  readonly tokenRequests: number;
  /** Token requests per protocol. */
  readonly tokenRequestsByProtocol: Readonly<Record<IdentityProtocol, number>>;
  /** Token requests per resolved identity name (requests that named no known identity are not counted here). */
  readonly tokenRequestsByIdentity: Readonly<Record<string, number>>;
  /** Token requests per outcome. */
  readonly tokenRequestsByOutcome: Readonly<Record<IdentityRequestOutcome, number>>;
}

interface MutableCounters {
  tokenRequests: number;
  tokenRequestsByProtocol: Record<IdentityProtocol, number>;
  tokenRequestsByIdentity: Record<string, number>;
  tokenRequestsByOutcome: Record<IdentityRequestOutcome, number>;
}

/**
 * The fault and the counters the token endpoints share: one fault (and its `times` budget) applies
 * to the next token requests whichever endpoint they reach, and every token request is counted once.
 *
 * @example
 * const control = new TokenRequestControl();
 * control.setFault({ mode: "down", times: 1 });
 * control.takeFault(); // { mode: "down", times: 1 }, then { mode: "ok" }
 */
export class TokenRequestControl {
  #fault: IdentityFault = { mode: "ok" };
  #remaining: number | undefined;
  #counters = emptyCounters();

  /** The fault for the request now arriving; consumes one of its `times`. */
  takeFault(): IdentityFault {
    const current = this.#fault;
    if (current.mode !== "ok" && this.#remaining !== undefined) {
      this.#remaining -= 1;
      if (this.#remaining <= 0) this.resetFault();
    }
    return current;
  }

  /** Injects a fault into the following token requests. */
  setFault(next: IdentityFault): void {
    this.#fault = next;
    this.#remaining = next.mode !== "ok" && next.times !== undefined ? next.times : undefined;
    if (this.#remaining !== undefined && this.#remaining <= 0) this.resetFault();
  }

  /** Reverts to answering normally. */
  resetFault(): void {
    this.#fault = { mode: "ok" };
    this.#remaining = undefined;
  }

  /** Counts one token request. */
  count(protocol: IdentityProtocol | undefined, outcome: IdentityRequestOutcome, identity?: string): void {
    const counters = this.#counters;
    counters.tokenRequests += 1;
    if (protocol) counters.tokenRequestsByProtocol[protocol] += 1;
    counters.tokenRequestsByOutcome[outcome] += 1;
    if (identity)
      counters.tokenRequestsByIdentity[identity] = (counters.tokenRequestsByIdentity[identity] ?? 0) + 1;
  }

  /** A frozen snapshot of the counters. */
  get counters(): IdentityEndpointCounters {
    const counters = this.#counters;
    return Object.freeze({
      tokenRequests: counters.tokenRequests,
      tokenRequestsByProtocol: Object.freeze({ ...counters.tokenRequestsByProtocol }),
      tokenRequestsByIdentity: Object.freeze({ ...counters.tokenRequestsByIdentity }),
      tokenRequestsByOutcome: Object.freeze({ ...counters.tokenRequestsByOutcome }),
    });
  }

  /** Sets every counter to zero. */
  resetCounters(): void {
    this.#counters = emptyCounters();
  }
}

function emptyCounters(): MutableCounters {
  return {
    tokenRequests: 0,
    tokenRequestsByProtocol: { appService: 0, imds: 0, entra: 0 },
    tokenRequestsByIdentity: {},
    tokenRequestsByOutcome: { issued: 0, rejected: 0, down: 0, timeout: 0, status: 0, malformed: 0 },
  };
}

/** Human-readable texts for injected statuses, shared by the endpoints' error bodies. */
export const statusMessages: Readonly<Record<number, string>> = {
  400: "Bad request.",
  401: "Unauthorized.",
  403: "Forbidden.",
  404: "Not found.",
  410: "The managed identity endpoint is being upgraded. Retry later.",
  429: "Too many requests. Retry after the interval in the Retry-After header.",
  500: "An unexpected error occurred while fetching the AAD token.",
  502: "Bad gateway.",
  503: "The managed identity service is temporarily unavailable.",
  504: "Timed out while fetching the AAD token.",
};

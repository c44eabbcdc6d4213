/** One login attempt as an emulated server reports it to its `onLogin` observer. */
export interface LoginEvent<Reason extends string> {
  /** True once the session is open (the backend session, or the TDS LOGINACK). */
  readonly accepted: boolean;
  /** Why the login was refused; absent when accepted, or when the backend refused or failed. */
  readonly reason?: Reason;
  /** The user the client asked for (`""` where the protocol names none). */
  readonly user: string;
}

/** The timers of a {@link SessionLifetime}, which servers let tests shorten. */
export interface SessionLimits {
  /** A connection that has not finished logging in after this long is closed. Defaults to 30 000. */
  readonly startupTimeoutInMs: number;
  /** How long a refused client may take to close before its socket is destroyed. Defaults to 2 000. */
  readonly lingerInMs: number;
  /** A logged-in client that sends nothing for this long is disconnected; `0` never. Defaults to 0. */
  readonly idleTimeoutInMs: number;
}

/** Default {@link SessionLimits}: 30 s to log in, 2 s for a refused client to close, no idle limit. */
export const DEFAULT_SESSION_LIMITS: SessionLimits = Object.freeze({
  startupTimeoutInMs: 30_000,
  lingerInMs: 2_000,
  idleTimeoutInMs: 0,
});

/** Who hears about logins. */
export interface LoginObserver<Reason extends string> {
  /** Called with each login attempt's outcome; throws are ignored. */
  onLogin?(event: LoginEvent<Reason>): void;
}

/** How {@link SessionLifetime.end} lets go of the connection. */
export interface SessionEndOptions {
  /**
   * `true` destroys the connection if it is still open after {@link SessionLimits.lingerInMs};
   * `false` leaves it to whatever `finish` started (e.g. a socket whose close destroys it).
   */
  readonly linger: boolean;
}

/** Who a {@link SessionLifetime} answers to. */
export interface SessionHooks<Reason extends string> {
  /** Hears about logins: a server's options, whose `onLogin` is called with the options as `this`. */
  readonly observer: LoginObserver<Reason>;
  /** Destroys the connection's sockets; runs once, from {@link SessionLifetime.destroy}. */
  teardown(): void;
  /** Tells the server the connection is gone; runs once, after `teardown`. */
  forget(): void;
}

/**
 * What every emulated database login shares, whatever the protocol: the startup timeout, login
 * reports that survive a throwing observer, ending after a last message with a linger timeout, and
 * a teardown that runs exactly once.
 *
 * @example
 * const lifetime = new SessionLifetime(limits, { observer: options, teardown: () => socket.destroy(), forget });
 * lifetime.report({ accepted: false, reason: "expired", user });
 * lifetime.end(() => socket.end(refusal));
 */
export class SessionLifetime<Reason extends string> {
  readonly #limits: SessionLimits;
  readonly #hooks: SessionHooks<Reason>;
  #state: "open" | "closing" | "closed" = "open";
  #startup: NodeJS.Timeout | undefined;
  #linger: NodeJS.Timeout | undefined;

  /** Starts the startup timeout. */
  constructor(limits: SessionLimits, hooks: SessionHooks<Reason>) {
    this.#limits = limits;
    this.#hooks = hooks;
    this.#startup = setTimeout(() => this.destroy(), limits.startupTimeoutInMs);
    this.#startup.unref();
  }

  /** True once the connection is ending or gone: no more login messages are handled. */
  get closing(): boolean {
    return this.#state !== "open";
  }

  /** True once {@link destroy} ran. */
  get closed(): boolean {
    return this.#state === "closed";
  }

  /** The login finished: the startup timeout no longer applies. */
  loggedIn(): void {
    clearTimeout(this.#startup);
    this.#startup = undefined;
  }

  /** Tells the observer about a login attempt; a throwing observer is ignored. */
  report(event: LoginEvent<Reason>): void {
    try {
      this.#hooks.observer.onLogin?.(event);
    } catch {
      // A failing observer must not break the login.
    }
  }

  /**
   * Runs `finish` (write a last message, end the socket) unless the connection is already ending,
   * then destroys the connection if the client lingers. Lingers by default.
   */
  end(finish: () => void, options: SessionEndOptions = { linger: true }): void {
    if (this.#state !== "open") return;
    this.#state = "closing";
    finish();
    if (!options.linger) return;
    this.#linger = setTimeout(() => this.destroy(), this.#limits.lingerInMs);
    this.#linger.unref();
  }

  /** Stops the timers, tears the connection down and forgets it. Idempotent. */
  destroy(): void {
    if (this.#state === "closed") return;
    this.#state = "closed";
    clearTimeout(this.#startup);
    clearTimeout(this.#linger);
    this.#hooks.teardown();
    this.#hooks.forget();
  }
}

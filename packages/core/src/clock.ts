/**
 * Time source and timer scheduler used by the token provider. Inject a fake one in tests so no
 * test sleeps for real time.
 *
 * @example
 * ```ts
 * const provider = createTokenProvider({ credential, scope, clock: myFakeClock });
 * ```
 *
 */
export interface Clock {
  /** Current time, epoch milliseconds. */
  now(): number;
  /** Runs `fn` once after `ms` milliseconds; returns a handle for {@link Clock.clearTimeout}. */
  setTimeout(fn: () => void, ms: number): unknown;
  /** Cancels a timer created by {@link Clock.setTimeout}. Must accept an already fired handle. */
  clearTimeout(handle: unknown): void;
}

/**
 * The real clock: `Date.now()` and Node timers, `unref()`ed so they never keep the process alive.
 *
 * It is the clock of every provider created without a `clock` option.
 */
export const systemClock: Clock = Object.freeze({
  now: (): number => Date.now(),
  setTimeout: (fn: () => void, ms: number): unknown => {
    const handle = setTimeout(fn, ms);
    handle.unref();
    return handle;
  },
  clearTimeout: (handle: unknown): void => {
    clearTimeout(handle as ReturnType<typeof setTimeout>);
  },
});

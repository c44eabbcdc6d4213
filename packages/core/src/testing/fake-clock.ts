import type { Clock } from "../clock.js";

interface FakeTimer {
  readonly id: number;
  readonly at: number;
  readonly fn: () => void;
  unrefed: boolean;
  unref(): void;
}

/** Lets pending promise callbacks run (one macrotask turn; no real waiting). */
export function flush(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}

/** A manual clock for tests: time moves only through {@link FakeClock.advance}. */
export class FakeClock implements Clock {
  #now: number;
  #nextId = 1;
  #timers = new Map<number, FakeTimer>();
  /** Every timer ever created, to check `unref()`. */
  readonly created: FakeTimer[] = [];

  constructor(start = Date.now()) {
    this.#now = start;
  }

  now(): number {
    return this.#now;
  }

  setTimeout(fn: () => void, ms: number): unknown {
    const timer: FakeTimer = {
      id: this.#nextId++,
      at: this.#now + Math.max(0, ms),
      fn,
      unrefed: false,
      unref() {
        this.unrefed = true;
      },
    };
    this.#timers.set(timer.id, timer);
    this.created.push(timer);
    return timer;
  }

  clearTimeout(handle: unknown): void {
    this.#timers.delete((handle as FakeTimer).id);
  }

  /** Number of timers not yet fired or cleared. */
  get pending(): number {
    return this.#timers.size;
  }

  /** Moves time forward by `ms`, firing due timers in order and letting promises settle after each. */
  async advance(ms: number): Promise<void> {
    const end = this.#now + ms;
    await flush();
    for (;;) {
      let next: FakeTimer | undefined;
      for (const timer of this.#timers.values()) {
        if (timer.at <= end && (!next || timer.at < next.at)) next = timer;
      }
      if (!next) break;
      this.#timers.delete(next.id);
      this.#now = Math.max(this.#now, next.at);
      next.fn();
      await flush();
    }
    this.#now = end;
    await flush();
  }

  /** Moves time without firing timers (a suspended process). */
  jump(ms: number): void {
    this.#now += ms;
  }
}

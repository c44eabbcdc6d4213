import { describe, expect, it } from "vitest";
import {
  type CachedToken,
  DEFAULT_REFRESH_POLICY,
  effectiveMustRefreshMarginInMs,
  effectiveRefreshWindowInMs,
  MIN_RETRY_DELAY_IN_MS,
  mustRefresh,
  nextRefreshAt,
  resolveRefreshPolicy,
  retryAfterInMs,
  retryDelayInMs,
  shouldRefresh,
} from "./refresh-policy.js";

const HOUR = 3_600_000;
const policy = DEFAULT_REFRESH_POLICY;
const token = (lifetime: number, extra: Partial<CachedToken> = {}): CachedToken => ({
  token: "t",
  fetchedOnTimestamp: 0,
  expiresOnTimestamp: lifetime,
  ...extra,
});

describe("refresh-policy", () => {
  it("has the documented defaults", () => {
    expect(resolveRefreshPolicy()).toEqual({
      mustRefreshMarginInMs: 120_000,
      refreshWindowInMs: 600_000,
      retryInitialDelayInMs: 1_000,
      retryMaxDelayInMs: 60_000,
      getTokenTimeoutInMs: 30_000,
      retryJitter: "equal",
    });
  });

  it("rejects nonsense options with INVALID_SETTING", () => {
    expect(() => resolveRefreshPolicy({ refreshWindowInMs: -1 })).toThrow(/refreshWindowInMs/);
    expect(() => resolveRefreshPolicy({ getTokenTimeoutInMs: 0 })).toThrow(/getTokenTimeoutInMs/);
    expect(() => resolveRefreshPolicy({ retryJitter: "none" as never })).toThrow(/retryJitter/);
  });

  it("must refresh inside the 2 min margin of a 1 h token", () => {
    const t = token(HOUR);
    expect(mustRefresh(t, HOUR - 120_001, policy)).toBe(false);
    expect(mustRefresh(t, HOUR - 120_000, policy)).toBe(true);
    expect(mustRefresh(undefined, 0, policy)).toBe(true);
  });

  it("should refresh inside the 10 min window of a 1 h token", () => {
    const t = token(HOUR);
    expect(shouldRefresh(t, HOUR - 600_001, policy)).toBe(false);
    expect(shouldRefresh(t, HOUR - 600_000, policy)).toBe(true);
    expect(nextRefreshAt(t, policy)).toBe(HOUR - 600_000);
  });

  it("honours refreshAfterTimestamp when it comes first", () => {
    const t = token(24 * HOUR, { refreshAfterTimestamp: 12 * HOUR });
    expect(nextRefreshAt(t, policy)).toBe(12 * HOUR);
    expect(shouldRefresh(t, 12 * HOUR, policy)).toBe(true);
    expect(nextRefreshAt(token(HOUR, { refreshAfterTimestamp: 2 * HOUR }), policy)).toBe(HOUR - 600_000);
  });

  it("caps margins by the token's lifetime measured from when it was fetched (4 s tokens work)", () => {
    const t = token(1_004_000, { fetchedOnTimestamp: 1_000_000 });
    expect(mustRefresh(t, 1_003_499, policy)).toBe(false);
    expect(mustRefresh(t, 1_003_500, policy)).toBe(true);
    expect(nextRefreshAt(t, policy)).toBe(1_003_000);
    expect(shouldRefresh(t, 1_002_999, policy)).toBe(false);
  });

  it("backs off exponentially with equal jitter up to the maximum", () => {
    const mid = () => 0.5;
    expect([0, 1, 2, 3, 6, 7, 60].map((a) => retryDelayInMs(a, policy, mid))).toEqual([
      750, 1_500, 3_000, 6_000, 45_000, 45_000, 45_000,
    ]);
    expect(retryDelayInMs(0, policy, () => 0)).toBe(500);
    expect(retryDelayInMs(10, policy, () => 0.999999)).toBeLessThanOrEqual(60_000);
  });

  it("backs off with full jitter between the floor and the base", () => {
    const full = resolveRefreshPolicy({ retryJitter: "full" });
    expect(retryDelayInMs(3, full, () => 0.5)).toBe(4_000);
    expect(retryDelayInMs(3, full, () => 0)).toBe(MIN_RETRY_DELAY_IN_MS);
  });

  it("caps the delay at a quarter of the time left before the must-refresh point", () => {
    const t = token(10_000);
    // must-refresh at 8.75 s; at 4.75 s there are 4 s left -> at most 1 s.
    expect(retryDelayInMs(10, policy, () => 0.5, t, 4_750)).toBe(1_000);
    expect(retryDelayInMs(10, policy, () => 0.5, t, 8_700)).toBe(MIN_RETRY_DELAY_IN_MS);
  });
});

describe("retryAfterInMs", () => {
  const now = Date.parse("2026-11-30T12:00:00Z");
  it("reads Retry-After seconds and dates, the ms headers, and numeric properties", () => {
    expect(retryAfterInMs({ response: { headers: new Map([["retry-after", "3"]]) } }, now)).toBe(3_000);
    expect(
      retryAfterInMs({ response: { headers: { "retry-after": "Mon, 30 Nov 2026 12:00:10 GMT" } } }, now),
    ).toBe(10_000);
    expect(retryAfterInMs({ response: { headers: { "x-ms-retry-after-ms": "250" } } }, now)).toBe(250);
    expect(retryAfterInMs({ retryAfterInMs: 1_500 }, now)).toBe(1_500);
  });

  it("looks into causes and aggregate errors, and gives up on anything else", () => {
    const inner = { response: { headers: { "retry-after": "7" } } };
    expect(retryAfterInMs({ errors: [new Error("first"), inner] }, now)).toBe(7_000);
    expect(retryAfterInMs(new Error("outer", { cause: inner }), now)).toBe(7_000);
    expect(retryAfterInMs(new Error("no hint"), now)).toBeUndefined();
    expect(retryAfterInMs({ response: { headers: { "retry-after": "soon" } } }, now)).toBeUndefined();
    const loop: { cause?: unknown } = {};
    loop.cause = loop;
    expect(retryAfterInMs(loop, now)).toBeUndefined();
    expect(retryAfterInMs("429", now)).toBeUndefined();
  });
});

describe("lifetime from the token's own claims", () => {
  it("keeps the full margin for a one-hour token fetched with 10 minutes left", () => {
    const now = 1_000_000_000;
    const fromCache: CachedToken = {
      token: "t",
      expiresOnTimestamp: now + 600_000,
      fetchedOnTimestamp: now,
      lifetimeInMs: HOUR,
    };
    // Measured from the fetch, the lifetime would be 10 min and the margin 75 s.
    expect(mustRefresh(fromCache, now + 600_000 - 100_000, policy)).toBe(true);
    expect(mustRefresh({ ...fromCache, lifetimeInMs: undefined }, now + 600_000 - 100_000, policy)).toBe(
      false,
    );
  });
});

describe("the margins the README documents", () => {
  const margins = (lifetimeInMs: number) => {
    const token: CachedToken = { token: "t", expiresOnTimestamp: lifetimeInMs, fetchedOnTimestamp: 0 };
    return {
      margin: effectiveMustRefreshMarginInMs(token, policy),
      window: effectiveRefreshWindowInMs(token, policy),
    };
  };
  it("gives 37.5 s / 75 s for 5-minute tokens, 2 min / 10 min for 1-hour and 24-hour tokens", () => {
    expect(margins(5 * 60_000)).toEqual({ margin: 37_500, window: 75_000 });
    expect(margins(HOUR)).toEqual({ margin: 120_000, window: 600_000 });
    expect(margins(24 * HOUR)).toEqual({ margin: 120_000, window: 600_000 });
  });
});

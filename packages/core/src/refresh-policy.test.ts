import { describe, expect, it } from "vitest";
import {
  type CachedToken,
  DEFAULT_REFRESH_POLICY,
  MIN_RETRY_DELAY_IN_MS,
  mustRefresh,
  nextRefreshAt,
  resolveRefreshPolicy,
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

import { afterEach, describe, expect, it, vi } from "vitest";
import { getSharedTokenProvider, resetSharedTokenProviders } from "./get-shared-token-provider.js";
import { healthCheck } from "./health-check.js";
import { harness, rejectionOf, SCOPE } from "./testing/harness.js";
import type { TokenErrorEvent, TokenRefreshedEvent } from "./token-events.js";

const HOUR = 3_600_000;

afterEach(() => resetSharedTokenProviders());

describe("events: onTokenRefreshed and onTokenError", () => {
  it("reports each new token and each failure, without the token", async () => {
    const refreshed: TokenRefreshedEvent[] = [];
    const errors: TokenErrorEvent[] = [];
    const { clock, credential, provider } = harness({
      onTokenRefreshed: (event) => refreshed.push(event),
      onTokenError: (event) => errors.push(event),
    });
    const first = await provider.getToken();
    expect(refreshed).toEqual([
      {
        scope: SCOPE,
        credential: "FakeCredential",
        expiresOnTimestamp: first.expiresOnTimestamp,
        durationInMs: 0,
        background: false,
      },
    ]);
    credential.script.push(new Error("endpoint down"));
    await clock.advance(HOUR - 600_000);
    expect(errors).toHaveLength(1);
    expect(errors[0]).toMatchObject({ scope: SCOPE, background: true, stillServing: true });
    expect(errors[0]?.error.code).toBe("CREDENTIAL_FAILED");
    expect(errors[0]?.nextAttemptInMs).toBe(750);
    await clock.advance(750);
    expect(refreshed).toHaveLength(2);
    expect(refreshed[1]?.background).toBe(true);
    expect(JSON.stringify([refreshed, errors])).not.toContain("token-");
  });

  it("logs and ignores a listener that throws", async () => {
    const { provider } = harness({
      onTokenRefreshed: () => {
        throw new Error("listener bug");
      },
    });
    expect((await provider.getToken()).token).toBe("token-1");
  });

  it("adds the listeners of every config that shares a provider", async () => {
    const { credential } = harness();
    const a = vi.fn();
    const b = vi.fn();
    const provider = getSharedTokenProvider({ credential, scope: SCOPE, onTokenRefreshed: a });
    expect(getSharedTokenProvider({ credential, scope: SCOPE, onTokenRefreshed: b })).toBe(provider);
    getSharedTokenProvider({ credential, scope: SCOPE, onTokenRefreshed: b });
    await provider.getToken();
    expect(a).toHaveBeenCalledTimes(1);
    expect(b).toHaveBeenCalledTimes(1);
  });
});

describe("healthCheck(): a readiness probe's view of the providers", () => {
  function statusOf(scope: string) {
    return healthCheck().providers.find((provider) => provider.scope === scope);
  }

  it("goes healthy -> degraded -> unhealthy -> healthy through an outage, naming the reason", async () => {
    const scope = "https://health.example/.default";
    const { clock, credential, provider } = harness({ scope });
    expect(statusOf(scope)?.status).toBe("healthy");
    expect(statusOf(scope)?.reason).toContain("next connection fetches one");
    const pending = provider.getToken();
    expect(statusOf(scope)?.status).toBe("degraded");
    await pending;
    expect(statusOf(scope)).toMatchObject({ status: "healthy", credential: "FakeCredential" });
    expect(statusOf(scope)?.reason).toContain("expires in 3600 s");

    for (let i = 0; i < 1_000; i++) credential.script.push(new Error("identity endpoint unreachable"));
    await clock.advance(HOUR - 600_000 + 1);
    const degraded = statusOf(scope);
    expect(degraded?.status).toBe("degraded");
    expect(degraded?.reason).toMatch(/fails since .*CREDENTIAL_FAILED.*expires in \d+ s/);
    expect(degraded?.lastError?.code).toBe("CREDENTIAL_FAILED");

    await clock.advance(600_000);
    await rejectionOf(provider.getToken());
    const unhealthy = statusOf(scope);
    expect(unhealthy?.status).toBe("unhealthy");
    expect(unhealthy?.reason).toContain("identity endpoint unreachable");
    expect(healthCheck().status).toBe("unhealthy");

    credential.script.length = 0;
    const recovered = provider.getToken();
    await clock.advance(1_000);
    await recovered;
    expect(statusOf(scope)?.status).toBe("healthy");
    expect(statusOf(scope)?.lastError).toBeUndefined();
    expect(JSON.stringify(healthCheck())).not.toContain("token-");
  });

  it("leaves closed providers out", async () => {
    const scope = "https://health-closed.example/.default";
    const { provider } = harness({ scope });
    await provider.getToken();
    provider.close();
    expect(statusOf(scope)).toBeUndefined();
  });
});

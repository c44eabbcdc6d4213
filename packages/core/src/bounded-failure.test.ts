import { describe, expect, it } from "vitest";
import { harness, rejectionOf } from "./testing/harness.js";

describe("bounded-failure", () => {
  it("rejects with CREDENTIAL_FAILED naming the credential, scope, cause and what to do", async () => {
    class DefaultAzureCredential {
      async getToken(): Promise<null> {
        throw new Error("ManagedIdentityCredential: no identity assigned");
      }
    }
    const { provider } = harness({ credential: new DefaultAzureCredential() as never });
    const error = await rejectionOf(provider.getToken());
    expect(error.code).toBe("CREDENTIAL_FAILED");
    expect(error.message).toContain("DefaultAzureCredential");
    expect(error.message).toContain("https://ossrdbms-aad.database.windows.net/.default");
    expect(error.message).toContain("no identity assigned");
    expect(error.message).toContain("az login");
    expect(error.hint).toContain("clientId");
    expect(provider.stats.failures).toBe(1);
  });

  it("treats a credential answering null as a failure", async () => {
    const { credential, provider } = harness();
    credential.script.push(null);
    const error = await rejectionOf(provider.getToken());
    expect(error.code).toBe("CREDENTIAL_FAILED");
    expect(error.message).toContain("no token");
  });

  it("treats an already expired token as a failure", async () => {
    const { clock, credential, provider } = harness();
    credential.script.push({ token: "old", expiresOnTimestamp: clock.now() - 1 });
    const error = await rejectionOf(provider.getToken());
    expect(error.code).toBe("CREDENTIAL_FAILED");
    // The hint is about what the credential returned, not about managed identities or az login.
    expect(error.hint).toContain("expiresOnTimestamp in epoch milliseconds");
    expect(error.hint).not.toMatch(/az login|managed identity/);
  });

  it("handles a credential that throws synchronously", async () => {
    const credential = {
      getToken(): never {
        throw new Error("sync boom");
      },
    };
    const { provider } = harness({ credential: credential as never });
    const error = await rejectionOf(provider.getToken());
    expect(error.code).toBe("CREDENTIAL_FAILED");
    expect(error.message).toContain("sync boom");
    expect(error.message).toContain("TokenCredential");
  });

  it("rejects with TOKEN_TIMEOUT after getTokenTimeoutInMs and aborts the credential call", async () => {
    const { clock, credential, provider } = harness({ getTokenTimeoutInMs: 5_000 });
    credential.script.push("hang");
    const pending = rejectionOf(provider.getToken());
    await clock.advance(4_999);
    await clock.advance(1);
    const error = await pending;
    expect(error.code).toBe("TOKEN_TIMEOUT");
    expect(error.message).toContain("5000 ms");
    expect(credential.signals[0]?.aborted).toBe(true);
    expect(clock.pending).toBe(0);
    // The next caller starts a new fetch (after the retry schedule's short wait) instead of joining the hung one.
    const next = provider.getToken();
    await clock.advance(1_000);
    expect((await next).token).toBe("token-1");
  });

  it("clears the timeout timer on success", async () => {
    const { clock, provider } = harness();
    await provider.getToken();
    // Only the refresh timer is left.
    expect(clock.pending).toBe(1);
  });

  it("lets the next caller retry after a cold failure, on the retry schedule", async () => {
    const { clock, credential, provider } = harness();
    credential.script.push(new Error("once"));
    await rejectionOf(provider.getToken());
    // Equal jitter at the midpoint: the next attempt is 750 ms after the failure.
    const next = provider.getToken();
    await clock.advance(749);
    expect(credential.calls).toBe(1);
    await clock.advance(1);
    expect((await next).token).toBe("token-1");
    expect(credential.calls).toBe(2);
  });
});

import { afterEach, describe, expect, it } from "vitest";
import { getSharedTokenProvider, resetSharedTokenProviders } from "./get-shared-token-provider.js";
import { FakeClock } from "./testing/fake-clock.js";
import { FakeCredential } from "./testing/fake-credential.js";
import { harness, rejectionOf, SCOPE } from "./testing/harness.js";

const SQL = "https://database.windows.net/.default";

describe("shared-token-provider", () => {
  afterEach(() => resetSharedTokenProviders());

  it("returns the given tokenProvider as is", () => {
    const { provider } = harness();
    expect(getSharedTokenProvider({ scope: SCOPE, tokenProvider: provider })).toBe(provider);
  });

  it("shares one provider per (credential object, scope)", async () => {
    const credential = new FakeCredential(new FakeClock());
    const a = getSharedTokenProvider({ scope: SCOPE, credential });
    const b = getSharedTokenProvider({ scope: SCOPE, credential, refreshWindowInMs: 1 });
    const c = getSharedTokenProvider({ scope: SQL, credential });
    const d = getSharedTokenProvider({ scope: SCOPE, credential: new FakeCredential(new FakeClock()) });
    expect(b).toBe(a);
    expect(c).not.toBe(a);
    expect(d).not.toBe(a);
    await Promise.all([a.getToken(), b.getToken()]);
    expect(credential.calls).toBe(1);
  });

  it("shares one lazily created DefaultAzureCredential provider per clientId", () => {
    const id1 = "11111111-1111-1111-1111-111111111111";
    const a = getSharedTokenProvider({ scope: SCOPE, clientId: id1 });
    expect(getSharedTokenProvider({ scope: SCOPE, clientId: id1 })).toBe(a);
    expect(
      getSharedTokenProvider({ scope: SCOPE, clientId: "22222222-2222-2222-2222-222222222222" }),
    ).not.toBe(a);
    expect(getSharedTokenProvider({ scope: SCOPE })).not.toBe(a);
  });

  it("closes and forgets providers on reset, and replaces a closed shared provider", async () => {
    const credential = new FakeCredential(new FakeClock());
    const a = getSharedTokenProvider({ scope: SCOPE, credential });
    resetSharedTokenProviders();
    expect((await rejectionOf(a.getToken())).code).toBe("PROVIDER_CLOSED");
    const b = getSharedTokenProvider({ scope: SCOPE, credential });
    expect(b).not.toBe(a);
    b.close();
    expect(getSharedTokenProvider({ scope: SCOPE, credential })).not.toBe(b);
  });
});

import { createTokenProvider, type TokenProviderOptions } from "../create-token-provider.js";
import type { EntraTokenProvider } from "../entra-token-provider.js";
import { FakeClock } from "./fake-clock.js";
import { FakeCredential } from "./fake-credential.js";

/** Scope used by the provider tests. */
export const SCOPE = "https://ossrdbms-aad.database.windows.net/.default";

/** A provider on a fake clock and fake credential (jitter fixed at the midpoint). */
export function harness(options: Partial<TokenProviderOptions> = {}): {
  clock: FakeClock;
  credential: FakeCredential;
  provider: EntraTokenProvider;
} {
  const clock = (options.clock as FakeClock | undefined) ?? new FakeClock();
  const credential = (options.credential as FakeCredential | undefined) ?? new FakeCredential(clock);
  const provider = createTokenProvider({
    random: () => 0.5,
    ...options,
    clock,
    credential,
    scope: options.scope ?? SCOPE,
  });
  return { clock, credential, provider };
}

/** The rejection of `promise` (fails the test if it resolves). */
export async function rejectionOf(
  promise: Promise<unknown>,
): Promise<Error & { code?: string; hint?: string }> {
  try {
    await promise;
  } catch (error) {
    return error as Error & { code?: string };
  }
  throw new Error("expected a rejection");
}

import { resetSharedTokenProviders } from "@org/entra-core";
import { afterAll, beforeAll } from "vitest";
import { type Harness, type HarnessOptions, startHarness } from "./start-harness.js";

/**
 * Starts a harness before the tests of the file (or `describe` block) that calls it, and after
 * them resets the shared token providers and closes it. Call it where the hooks belong, at the
 * top level of a test file.
 *
 * @returns The harness; its members are readable once `beforeAll` has run (in hooks and tests).
 */
export function useHarness(options: HarnessOptions = {}): Harness {
  let harness: Harness | undefined;

  beforeAll(async () => {
    harness = await startHarness(options);
  });

  afterAll(async () => {
    resetSharedTokenProviders();
    await harness?.close();
  });

  const started = (): Harness => {
    if (!harness) throw new Error("The harness starts in beforeAll: use it in hooks and tests only.");
    return harness;
  };
  return {
    get emulator() {
      return started().emulator;
    },
    get backends() {
      return started().backends;
    },
    get tls() {
      return started().tls;
    },
    close: () => started().close(),
  };
}

import { inspect } from "node:util";
import { describe, expect, it } from "vitest";
import { EntraAuthError } from "./entra-auth-error.js";
import { harness, rejectionOf } from "./testing/harness.js";

const CANARY = "eyJ0eXAiOiJKV1QiCANARY-TOKEN-must-never-leak.sig";

function everything(value: unknown): string {
  let json = "";
  try {
    json = JSON.stringify(value) ?? "";
  } catch {}
  return `${inspect(value, { showHidden: true, depth: 10, getters: true })}\n${json}\n${String(value)}`;
}

describe("no-token-leak", () => {
  it("keeps the token out of util.inspect, JSON and stats of the provider", async () => {
    const { clock, credential, provider } = harness();
    credential.script.push({ token: CANARY, expiresOnTimestamp: clock.now() + 3_600_000 });
    expect((await provider.getToken()).token).toBe(CANARY);
    expect(everything(provider)).not.toContain("CANARY");
    expect(everything(provider.stats)).not.toContain("CANARY");
  });

  it("scrubs the current token from errors built from credential failures", async () => {
    const { clock, credential, provider } = harness();
    credential.script.push({ token: CANARY, expiresOnTimestamp: clock.now() + 3_600_000 });
    await provider.getToken();
    const echo = new Error(`refresh failed for Bearer ${CANARY}`);
    credential.script.push(echo);
    const error = await rejectionOf(provider.getToken({ forceRefresh: true }));
    expect(error).toBeInstanceOf(EntraAuthError);
    expect(error.message).toContain("[REDACTED]");
    expect(everything(error)).not.toContain("CANARY");
    expect(everything(error.cause)).not.toContain("CANARY");
  });

  it("does not log the token", async () => {
    const { logger } = await import("./logger.js");
    const { AzureLogger, setLogLevel, getLogLevel } = await import("@azure/logger");
    const lines: string[] = [];
    const original = AzureLogger.log;
    const level = getLogLevel();
    AzureLogger.log = (...args: unknown[]) => {
      lines.push(args.map(String).join(" "));
    };
    setLogLevel("verbose");
    try {
      const { clock, credential, provider } = harness();
      credential.script.push({ token: CANARY, expiresOnTimestamp: clock.now() + 3_600_000 });
      await provider.getToken();
      credential.script.push(new Error(`echo ${CANARY}`));
      await clock.advance(3_000_000);
      await provider.getToken();
      logger.info("done");
    } finally {
      AzureLogger.log = original;
      setLogLevel(level);
    }
    expect(lines.length).toBeGreaterThan(2);
    expect(lines.join("\n")).not.toContain("CANARY");
  });
});

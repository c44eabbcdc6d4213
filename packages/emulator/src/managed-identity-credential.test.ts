import { execFile } from "node:child_process";
import { dirname, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { describe, expect, it } from "vitest";
import { startEmulator } from "./start-emulator.js";
import { validateToken } from "./token-validation.js";

const packageDirectory = resolve(dirname(fileURLToPath(import.meta.url)), "..");
const scope = "https://ossrdbms-aad.database.windows.net/.default";

// MSAL fixes the managed-identity source, endpoint and token cache per process at the first token
// request, so the real credential runs in a fresh child process with the emulator's env.
const script = `
const { DefaultAzureCredential, ManagedIdentityCredential } = await import("@azure/identity");
const clientId = process.env.TEST_CLIENT_ID;
const managed = await new ManagedIdentityCredential(clientId ? { clientId } : {}).getToken(${JSON.stringify(scope)});
const chained = await new DefaultAzureCredential(clientId ? { managedIdentityClientId: clientId } : {}).getToken(${JSON.stringify(scope)});
process.stdout.write(JSON.stringify({ managed, chained }));
`;

const inheritedAzureVariables = /^(AZURE_|MSI_|IDENTITY_|IMDS_)/;

async function runCredential(env: Record<string, string | undefined>) {
  const base = Object.fromEntries(
    Object.entries(process.env).filter(([key]) => !inheritedAzureVariables.test(key)),
  );
  const { stdout } = await promisify(execFile)(process.execPath, ["--input-type=module", "-e", script], {
    cwd: packageDirectory,
    env: { ...base, ...env },
    timeout: 30_000,
  });
  return JSON.parse(stdout) as {
    managed: { token: string; expiresOnTimestamp: number };
    chained: { token: string; expiresOnTimestamp: number };
  };
}

describe("the real @azure/identity against the identity endpoint", () => {
  it("ManagedIdentityCredential and DefaultAzureCredential get a valid token (system-assigned)", async () => {
    await using emulator = await startEmulator({ postgres: false });
    const { managed, chained } = await runCredential(emulator.env);
    const result = validateToken(managed.token, {
      audiences: ["https://ossrdbms-aad.database.windows.net"],
      tenantId: emulator.tenantId,
      jwks: emulator.jwks,
    });
    expect(result).toMatchObject({ ok: true, principalName: "emulated-app" });
    expect(Math.abs(managed.expiresOnTimestamp - (Date.now() + 3600_000))).toBeLessThan(60_000);
    expect(chained.token).toBe(managed.token);
    expect(emulator.counters.tokenRequestsByProtocol.appService).toBeGreaterThanOrEqual(1);
    expect(emulator.counters.tokenRequestsByOutcome.rejected).toBe(0);
  }, 60_000);

  it("gets a token for a user-assigned identity by client id", async () => {
    await using emulator = await startEmulator({
      postgres: false,
      identities: [
        { name: "emulated-app", kind: "system" },
        { name: "orders-identity", kind: "user" },
      ],
    });
    const user = emulator.identities[1];
    const { managed } = await runCredential({ ...emulator.env, TEST_CLIENT_ID: user?.clientId });
    const result = validateToken(managed.token, {
      audiences: ["https://ossrdbms-aad.database.windows.net"],
      tenantId: emulator.tenantId,
      jwks: emulator.jwks,
    });
    expect(result).toMatchObject({ ok: true, principalName: "orders-identity" });
    expect(emulator.counters.tokenRequestsByIdentity["orders-identity"]).toBeGreaterThanOrEqual(1);
  }, 60_000);
});

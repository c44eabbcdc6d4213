import { once } from "node:events";
import { createServer, type Server, type Socket } from "node:net";
import { CredentialUnavailableError } from "@azure/identity";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { CliIo, NamedCredential } from "./cli-io.js";
import { adviseCredential, checkCredential } from "./doctor/check-credential.js";
import { run } from "./run.js";

const claims = {
  aud: "https://ossrdbms-aad.database.windows.net",
  upn: "dev@contoso.com",
  exp: 4_102_444_800,
};
const TOKEN = `eyJhbGciOiJSUzI1NiJ9.${Buffer.from(JSON.stringify(claims)).toString("base64url")}.c2ln`;

const okChain = (): NamedCredential[] => [
  {
    name: "ManagedIdentityCredential",
    credential: { getToken: async () => ({ token: TOKEN, expiresOnTimestamp: 4_102_444_800_000 }) },
  },
];

/** An IO whose stdout records each write with its time. */
function recordingIo(
  env: Record<string, string>,
  options: { tty?: boolean; chain?: () => NamedCredential[] } = {},
) {
  const writes: Array<{ at: number; text: string }> = [];
  const err: string[] = [];
  const io: CliIo = {
    stdout: { write: (text: string) => writes.push({ at: Date.now(), text }), isTTY: options.tty ?? false },
    stderr: { write: (text: string) => err.push(text) },
    env,
    createCredentialChain: options.chain ?? okChain,
  };
  return { io, writes, stdout: () => writes.map((w) => w.text).join(""), stderr: () => err.join("") };
}

// A real TCP server that accepts connections and never answers: the network check waits for it.
let silent: Server;
let silentPort: number;
const sockets: Socket[] = [];
beforeAll(async () => {
  silent = createServer((socket) => sockets.push(socket));
  silent.listen(0, "127.0.0.1");
  await once(silent, "listening");
  silentPort = (silent.address() as { port: number }).port;
});
afterAll(() => {
  for (const socket of sockets) socket.destroy();
  silent.close();
});

describe("doctor streams its checks", () => {
  it("writes each check's line when it finishes, before a slow check ends", async () => {
    const { io, writes } = recordingIo({
      AZURE_POSTGRESQL_HOST: "127.0.0.1",
      AZURE_POSTGRESQL_PORT: String(silentPort),
    });
    const started = Date.now();
    expect(await run(["doctor", "--timeout", "0.6"], io)).toBe(1);
    const at = (pattern: RegExp) => writes.find((w) => pattern.test(w.text))?.at ?? Number.NaN;
    expect(at(/^\[ok\] credential/) - started).toBeLessThan(300);
    expect(at(/^\[FAIL\] network .*no answer to the SSLRequest/) - started).toBeGreaterThanOrEqual(550);
    expect(at(/^\[FAIL\] network/) - at(/^\[ok\] token/)).toBeGreaterThanOrEqual(400);
  });

  it("on a terminal draws a spinner with the elapsed time, then the result over it; no colour with NO_COLOR", async () => {
    const { io, stdout } = recordingIo(
      { AZURE_POSTGRESQL_HOST: "127.0.0.1", AZURE_POSTGRESQL_PORT: String(silentPort), NO_COLOR: "1" },
      { tty: true },
    );
    await run(["doctor", "--timeout", "0.5"], io);
    const text = stdout();
    expect(text).toMatch(/\r[⠋⠙⠹⠸⠼⠴⠦⠧⠇⠏] network {4}running 0\.[1-4] s/);
    expect(text).toMatch(/\r *\r✗ network/);
    expect(text).toContain("✓ settings");
    expect(text).not.toContain("\u001b");
  });

  it("colours on a terminal, never when piped unless FORCE_COLOR", async () => {
    const env = { AZURE_POSTGRESQL_HOST: "127.0.0.1", AZURE_POSTGRESQL_PORT: "1" };
    const tty = recordingIo(env, { tty: true });
    await run(["doctor"], tty.io);
    expect(tty.stdout()).toContain("\u001b[32m✓\u001b[0m settings");
    const piped = recordingIo(env);
    await run(["doctor"], piped.io);
    expect(piped.stdout()).not.toContain("\u001b");
    expect(piped.stdout()).not.toContain("\r");
    const forced = recordingIo({ ...env, FORCE_COLOR: "1" });
    await run(["doctor"], forced.io);
    expect(forced.stdout()).toContain("\u001b[32m[ok]\u001b[0m settings");
  });
});

describe("doctor --deadline", () => {
  it("fails the running check at the deadline and reports the rest as not run", async () => {
    const { io, stdout } = recordingIo(
      { AZURE_POSTGRESQL_HOST: "127.0.0.1", AZURE_POSTGRESQL_PORT: String(silentPort) },
      {
        chain: () => [
          { name: "ManagedIdentityCredential", credential: { getToken: () => new Promise(() => {}) } },
        ],
      },
    );
    const started = Date.now();
    expect(await run(["doctor", "--deadline", "0.3", "--timeout", "5"], io)).toBe(1);
    expect(Date.now() - started).toBeLessThan(2_000);
    const text = stdout();
    expect(text).toMatch(/\[FAIL\] credential no result before the --deadline 0\.3 s/);
    for (const name of ["token", "network", "login"]) {
      expect(text).toMatch(new RegExp(`\\[skip\\] ${name} +not run: the --deadline 0\\.3 s was reached`));
    }
  });

  it("bounds the network step by the time left", async () => {
    const { io, stdout } = recordingIo({
      AZURE_POSTGRESQL_HOST: "127.0.0.1",
      AZURE_POSTGRESQL_PORT: String(silentPort),
    });
    const started = Date.now();
    expect(await run(["doctor", "--deadline", "0.5", "--timeout", "10"], io)).toBe(1);
    expect(Date.now() - started).toBeLessThan(2_000);
    expect(stdout()).toMatch(/\[FAIL\] network/);
    expect(stdout()).toMatch(/\[skip\] login +(not run: the --deadline|network check failed)/);
  });
});

describe("doctor with several engines", () => {
  const env = {
    AZURE_POSTGRESQL_HOST: "127.0.0.1",
    AZURE_POSTGRESQL_PORT: "1",
    AZURE_MYSQL_HOST: "127.0.0.1",
    AZURE_MYSQL_PORT: "1",
    AZURE_SQL_SERVER: "127.0.0.1",
    AZURE_SQL_PORT: "1",
  };

  it("checks each configured engine under its own header; exit 1 when any failed", async () => {
    const { io, stdout } = recordingIo(env);
    expect(await run(["doctor"], io)).toBe(1);
    const text = stdout();
    expect(text).not.toMatch(/several engines/);
    const headers = [...text.matchAll(/^== (\w+) \((AZURE_\w+_)\*\) ==$/gm)].map((m) => m[1]);
    expect(headers).toEqual(["postgresql", "mysql", "sqlserver"]);
    expect(text).toMatch(
      /^\[ok\] settings {3}mysql 127\.0\.0\.1:1 \(2 AZURE_MYSQL_\* variables; also set: postgresql, sqlserver\)$/m,
    );
    expect(text).toMatch(/^sqlserver: 2 checks failed\.$/m); // token (audience of the fake token) and network
    expect(text).toMatch(/3 engines checked: 3 failed \(postgresql, mysql, sqlserver\)\.\n$/);
  });

  it("--json gives one report per engine", async () => {
    const { io, stdout } = recordingIo(env);
    expect(await run(["doctor", "--json"], io)).toBe(1);
    const report = JSON.parse(stdout());
    expect(report.ok).toBe(false);
    expect(report.engines.map((r: { engine: string }) => r.engine)).toEqual([
      "postgresql",
      "mysql",
      "sqlserver",
    ]);
  });

  it("--engine picks one; a per-server flag without --engine is a usage error", async () => {
    const one = recordingIo(env);
    expect(await run(["doctor", "-e", "mysql"], one.io)).toBe(1);
    expect(one.stdout()).not.toMatch(/^== /m);
    const ambiguous = recordingIo(env);
    expect(await run(["doctor", "--port", "5432"], ambiguous.io)).toBe(2);
    expect(ambiguous.stderr()).toMatch(
      /^entra-db: --port describes one server.*\[USAGE\]\n {2}hint: Pass --engine postgresql\|mysql\|sqlserver/,
    );
  });
});

describe("doctor settings line", () => {
  it("shows the settings actually used: flags over variables, naming the flags", async () => {
    const { io, stdout } = recordingIo({
      AZURE_POSTGRESQL_HOST: "srv.postgres.database.azure.com",
      AZURE_POSTGRESQL_PORT: "6432",
      AZURE_POSTGRESQL_DATABASE: "app",
    });
    await run(["doctor", "--host", "127.0.0.1", "--port", "1"], io);
    expect(stdout()).toMatch(
      /^\[ok\] settings {3}postgresql 127\.0\.0\.1:1\/app \(--host, --port from flags; 3 AZURE_POSTGRESQL_\* variables\)$/m,
    );
    expect(stdout()).toMatch(/TCP 127\.0\.0\.1:1: ECONNREFUSED/);
  });
});

describe("a failed credential chain", () => {
  const unavailable = (name: string, message: string): NamedCredential => ({
    name,
    credential: {
      getToken: async () => {
        throw new CredentialUnavailableError(message);
      },
    },
  });
  const longMi = `ManagedIdentityCredential: Authentication failed. Message client_error: ${"x".repeat(1500)}`;
  const chain = (): NamedCredential[] => [
    unavailable(
      "EnvironmentCredential",
      "EnvironmentCredential is unavailable. No underlying credential could be used. To troubleshoot, visit https://aka.ms/x.",
    ),
    unavailable(
      "WorkloadIdentityCredential",
      "WorkloadIdentityCredential: is unavailable. clientId is a required parameter.",
    ),
    unavailable("ManagedIdentityCredential", longMi),
    unavailable(
      "AzureCliCredential",
      "Azure CLI could not be found. Please visit https://aka.ms/azure-cli for installation instructions and then, once installed, authenticate to your Azure account using 'az login'.",
    ),
    unavailable(
      "AzurePowerShellCredential",
      "Error: Unable to execute PowerShell. Ensure that it is installed in your system.",
    ),
    unavailable("AzureDeveloperCliCredential", "Azure Developer CLI couldn't be found."),
  ];

  it("locally: one short line per credential, `az login` first, at most two alternatives", async () => {
    const { io, stdout } = recordingIo(
      { AZURE_POSTGRESQL_HOST: "127.0.0.1", AZURE_POSTGRESQL_PORT: "1" },
      { chain },
    );
    expect(await run(["doctor"], io)).toBe(1);
    const lines = stdout().split("\n");
    const start = lines.findIndex((line) => line.startsWith("[FAIL] credential"));
    const perCredential = lines.slice(start + 1, start + 7);
    expect(perCredential.map((line) => line.trim().split(/\s+/)[0])).toEqual([
      "EnvironmentCredential",
      "WorkloadIdentityCredential",
      "ManagedIdentityCredential",
      "AzureCliCredential",
      "AzurePowerShellCredential",
      "AzureDeveloperCliCredential",
    ]);
    for (const line of lines) expect(line.length).toBeLessThan(200);
    expect(perCredential[3]).toMatch(/unavailable: Azure CLI \(az\) not installed$/);
    expect(lines[start + 8]).toMatch(/^ {7}fix: {3}Install the Azure CLI .* `az login`\.$/);
    expect(lines.slice(start + 9).filter((line) => /^ {7}or: /.test(line))).toHaveLength(2);
  });

  it("on App Service (IDENTITY_ENDPOINT set): the managed identity comes first", async () => {
    const result = await checkCredential(chain(), "scope", 1000, {
      env: { IDENTITY_ENDPOINT: "http://127.0.0.1:41234/msi/token" },
    });
    expect(result.check.cause).toMatch(/IDENTITY_ENDPOINT is set/);
    expect(result.check.fix).toMatch(/^Enable the managed identity of this resource/);
    expect(result.check.alternatives?.length).toBeLessThanOrEqual(2);
    expect(result.check.lines?.[2]).toMatch(
      /^ManagedIdentityCredential +unavailable: Authentication failed\./,
    );
  });

  it("a hard failure names the credential that stopped the chain first", () => {
    const advice = adviseCredential(
      [
        { credential: "EnvironmentCredential", status: "unavailable" },
        { credential: "ManagedIdentityCredential", status: "failed", message: "HTTP 400 identity not found" },
      ],
      { clientId: "abc" },
    );
    expect(advice.cause).toMatch(/^ManagedIdentityCredential failed .*HTTP 400/);
    expect(advice.fix).toMatch(/client ID abc/);
  });
});

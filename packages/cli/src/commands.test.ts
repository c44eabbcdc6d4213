import { CredentialUnavailableError } from "@azure/identity";
import { describe, expect, it } from "vitest";
import type { CliIo } from "./cli-io.js";
import { run } from "./run.js";

const payload = Buffer.from(
  JSON.stringify({
    aud: "https://ossrdbms-aad.database.windows.net",
    upn: "dev@contoso.com",
    exp: 4_102_444_800,
  }),
).toString("base64url");
const TOKEN = `eyJhbGciOiJSUzI1NiJ9.${payload}.c2lnbmF0dXJl`;

function fakeIo(options: { tty?: boolean; env?: Record<string, string>; fail?: Error } = {}) {
  const out: string[] = [];
  const err: string[] = [];
  const scopes: string[] = [];
  const io: CliIo = {
    stdout: { write: (text: string) => out.push(text), isTTY: options.tty ?? false },
    stderr: { write: (text: string) => err.push(text) },
    env: options.env ?? {
      AZURE_POSTGRESQL_HOST: "srv.postgres.database.azure.com",
      AZURE_POSTGRESQL_DATABASE: "app",
    },
    createCredential: () => ({
      getToken: async (scope) => {
        scopes.push(String(scope));
        if (options.fail) throw options.fail;
        return { token: TOKEN, expiresOnTimestamp: 4_102_444_800_000 };
      },
    }),
  };
  return { io, stdout: () => out.join(""), stderr: () => err.join(""), scopes };
}

describe("entra-db token", () => {
  it("refuses a terminal without --force, and never fetches a token then", async () => {
    const { io, stdout, stderr, scopes } = fakeIo({ tty: true });
    expect(await run(["token"], io)).toBe(1);
    expect(stdout()).toBe("");
    expect(stderr()).toMatch(/Refusing to print an access token to a terminal\. Use --force or pipe it/);
    expect(scopes).toEqual([]);
  });

  it("prints to a terminal with --force, and to a pipe", async () => {
    const tty = fakeIo({ tty: true });
    expect(await run(["token", "--force"], tty.io)).toBe(0);
    expect(tty.stdout()).toBe(`${TOKEN}\n`);
    const pipe = fakeIo();
    expect(await run(["token"], pipe.io)).toBe(0);
    expect(pipe.scopes).toEqual(["https://ossrdbms-aad.database.windows.net/.default"]);
  });

  it("--json prints token, ISO expiry and scope; --scope overrides", async () => {
    const { io, stdout } = fakeIo();
    expect(await run(["token", "--json", "--scope", "https://example/.default"], io)).toBe(0);
    expect(JSON.parse(stdout())).toEqual({
      token: TOKEN,
      expiresOn: "2100-01-01T00:00:00.000Z",
      scope: "https://example/.default",
    });
  });

  it("reports a credential failure as one EntraAuthError line with exit 1", async () => {
    const { io, stdout, stderr } = fakeIo({ fail: new CredentialUnavailableError("no identity here") });
    expect(await run(["token"], io)).toBe(1);
    expect(stdout()).toBe("");
    expect(stderr()).toMatch(/^entra-db: .*\[CREDENTIAL_FAILED\]\n$/);
  });

  it("rejects unknown flags with a pointer to --help", async () => {
    const { io, stderr } = fakeIo();
    expect(await run(["token", "--nope"], io)).toBe(1);
    expect(stderr()).toMatch(/--nope.*entra-db token --help.*\[INVALID_SETTING\]/);
  });
});

describe("entra-db url and env", () => {
  it("url uses the token's name when no user is configured", async () => {
    const { io, stdout } = fakeIo();
    expect(await run(["url"], io)).toBe(0);
    expect(stdout()).toBe(
      `postgresql://dev%40contoso.com:${TOKEN}@srv.postgres.database.azure.com:5432/app?sslmode=verify-full\n`,
    );
  });

  it("url and env refuse a terminal without --force", async () => {
    for (const command of ["url", "env"]) {
      const { io, stderr } = fakeIo({ tty: true });
      expect(await run([command], io)).toBe(1);
      expect(stderr()).toMatch(/--force/);
    }
  });

  it("url needs a host and names the variable", async () => {
    const { io, stderr } = fakeIo({ env: {} });
    expect(await run(["url", "-e", "mysql"], io)).toBe(1);
    expect(stderr()).toMatch(/--host or set AZURE_MYSQL_HOST.*\[MISSING_SETTING\]/);
  });

  it("env prints shell lines for psql", async () => {
    const { io, stdout } = fakeIo();
    expect(await run(["env"], io)).toBe(0);
    expect(stdout()).toContain("export PGUSER='dev@contoso.com'\n");
    expect(stdout()).toContain("export PGSSLMODE='verify-full'\n");
  });
});

describe("help and version", () => {
  it("prints usage, per-command help and the version", async () => {
    const top = fakeIo();
    expect(await run(["--help"], top.io)).toBe(0);
    expect(top.stdout()).toMatch(/Commands:\n {2}token/);
    const doctor = fakeIo();
    expect(await run(["doctor", "--help"], doctor.io)).toBe(0);
    expect(doctor.stdout()).toMatch(/^Usage: entra-db doctor/);
    const version = fakeIo();
    expect(await run(["--version"], version.io)).toBe(0);
    expect(version.stdout()).toMatch(/^\d+\.\d+\.\d+/);
    const unknown = fakeIo();
    expect(await run(["frobnicate"], unknown.io)).toBe(1);
  });
});

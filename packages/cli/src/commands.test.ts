import { CredentialUnavailableError } from "@azure/identity";
import { EntraAuthError } from "@org/entra-core";
import { describe, expect, it } from "vitest";
import { CliError } from "./cli-error.js";
import type { CliIo } from "./cli-io.js";
import { formatError, run } from "./run.js";

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
    expect(stderr()).toBe(
      "entra-db: Refusing to print an access token to a terminal. [SECRET_TO_TERMINAL]\n" +
        "  hint: Use --force or pipe it (e.g. `| pbcopy`, `> file`, or `$(entra-db ...)`).\n",
    );
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
    expect(stderr()).toMatch(/^entra-db: .*\[CREDENTIAL_FAILED\]\n( {2}hint: .*\n)?$/);
  });

  it("rejects unknown flags with exit 2, the code on the message line and the hint on its own", async () => {
    const { io, stderr } = fakeIo();
    expect(await run(["token", "--nope"], io)).toBe(2);
    expect(stderr()).toBe("entra-db: Unknown option '--nope'. [USAGE]\n  hint: Run: entra-db token --help\n");
  });
});

describe("entra-db url and env", () => {
  it("url uses the token's name when no user is configured", async () => {
    const { io, stdout } = fakeIo();
    expect(await run(["url"], io)).toBe(0);
    expect(
      stdout().startsWith(
        `postgresql://dev%40contoso.com:${TOKEN}@srv.postgres.database.azure.com:5432/app?`,
      ),
    ).toBe(true);
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
    expect(stderr()).toMatch(
      /^entra-db: No host given for mysql\. \[MISSING_SETTING\]\n {2}hint: .*--host or set AZURE_MYSQL_HOST/,
    );
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
  });
});

describe("exit statuses and error output", () => {
  it("no arguments: usage on stderr, nothing on stdout, exit 2", async () => {
    const { io, stdout, stderr } = fakeIo();
    expect(await run([], io)).toBe(2);
    expect(stdout()).toBe("");
    expect(stderr()).toMatch(/^Usage: entra-db <command>/);
    expect(stderr()).toMatch(/Exit status:\n {2}0 .*\n {2}1 .*\n(.*\n)? {2}2 {2}usage error/);
  });

  it("unknown command or top-level option: USAGE, exit 2, the commands in the hint", async () => {
    const unknown = fakeIo();
    expect(await run(["frobnicate"], unknown.io)).toBe(2);
    expect(unknown.stderr()).toMatch(
      /^entra-db: Unknown command "frobnicate"\. \[USAGE\]\n {2}hint: Commands: token, url, env, .*doctor, proxy\. Run: entra-db --help\n$/,
    );
    const option = fakeIo();
    expect(await run(["--frob"], option.io)).toBe(2);
    expect(option.stderr()).toMatch(/^entra-db: Unknown option '--frob'\. \[USAGE\]\n/);
    const help = fakeIo();
    expect(await run(["help", "frobnicate"], help.io)).toBe(2);
  });

  it("bad option values are usage errors (exit 2)", async () => {
    for (const args of [
      ["doctor", "--timeout", "x"],
      ["doctor", "--deadline", "-1"],
      ["doctor", "--port", "99999", "-e", "pg"],
      ["doctor", "-e", "oracle"],
      ["doctor", "--ca", "/nonexistent/ca.pem"],
      ["url", "--host"],
    ]) {
      const { io, stderr, stdout } = fakeIo();
      expect(await run(args, io), args.join(" ")).toBe(2);
      expect(stderr(), args.join(" ")).toMatch(/^entra-db: [^\n]+ \[USAGE\]\n/);
      expect(stdout()).toBe("");
    }
  });

  it("a failed operation is exit 1 with its own code", async () => {
    const { io, stderr } = fakeIo({ fail: new CredentialUnavailableError("no identity here") });
    expect(await run(["url"], io)).toBe(1);
    expect(stderr()).toMatch(
      /^entra-db: [^\n]*no identity here[^\n]* \[CREDENTIAL_FAILED\]\n( {2}hint: [^\n]+\n)?$/,
    );
  });

  it("url, env and token with several engines configured ask for --engine, naming them (exit 2)", async () => {
    for (const command of ["url", "env", "token"]) {
      const { io, stderr, scopes } = fakeIo({
        env: { AZURE_POSTGRESQL_HOST: "p", AZURE_MYSQL_HOST: "m", AZURE_SQL_SERVER: "s" },
      });
      expect(await run([command], io)).toBe(2);
      expect(stderr()).toBe(
        "entra-db: Service Connector variables are set for several engines (postgresql, mysql, sqlserver). [USAGE]\n" +
          "  hint: Pass --engine postgresql|mysql|sqlserver to pick one.\n",
      );
      expect(scopes).toEqual([]);
    }
  });
});

describe("formatError", () => {
  it("puts the hint of an EntraAuthError on its own line, never run into the message", () => {
    const error = new EntraAuthError("MISSING_SETTING", "No host.", { hint: "Pass --host." });
    expect(formatError(error)).toBe("entra-db: No host. [MISSING_SETTING]\n  hint: Pass --host.");
    expect(formatError(new CliError("USAGE", "Bad."))).toBe("entra-db: Bad. [USAGE]");
    expect(formatError(new Error("plain"))).toBe("entra-db: plain");
    expect(formatError("text")).toBe("entra-db: text");
  });
});

import { mkdtemp, readFile, rm, stat, symlink, writeFile } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import type { CliIo } from "./cli-io.js";
import {
  defaultPgpassFile,
  escapePgpassField,
  parsePgpassLine,
  pgpassCommand,
  upsertPgpassEntry,
} from "./pgpass-command.js";
import { resolveCa } from "./resolve-login.js";

const key = {
  host: "srv.postgres.database.azure.com",
  port: "5432",
  database: "app",
  user: "dev@contoso.com",
};

describe("pgpass lines", () => {
  it("escapes : and \\ as libpq reads them, and parses them back", () => {
    expect(escapePgpassField(`a:b\\c`)).toBe(`a\\:b\\\\c`);
    expect(parsePgpassLine(`h:5432:d\\:b:Team\\\\A:pa:ss`)).toEqual(["h", "5432", "d:b", "Team\\A", "pa:ss"]);
    expect(parsePgpassLine("# h:1:d:u:p")).toBeUndefined();
    expect(parsePgpassLine("   ")).toBeUndefined();
  });

  it("adds an entry to an empty file", () => {
    expect(upsertPgpassEntry("", key, "tok1")).toBe(
      "srv.postgres.database.azure.com:5432:app:dev@contoso.com:tok1\n",
    );
  });

  it("replaces the entry for the same host, port, database and user in place and keeps every other line", () => {
    const before = [
      "# my servers",
      "other:5432:app:dev@contoso.com:keep-me",
      "srv.postgres.database.azure.com:5432:app:dev@contoso.com:old",
      "srv.postgres.database.azure.com:5432:other:dev@contoso.com:keep-too",
      "srv.postgres.database.azure.com:5432:app:dev@contoso.com:older-duplicate",
      "",
    ].join("\n");
    expect(upsertPgpassEntry(before, key, "new")).toBe(
      [
        "# my servers",
        "other:5432:app:dev@contoso.com:keep-me",
        "srv.postgres.database.azure.com:5432:app:dev@contoso.com:new",
        "srv.postgres.database.azure.com:5432:other:dev@contoso.com:keep-too",
        "",
      ].join("\n"),
    );
  });

  it("goes before a wildcard line that libpq would otherwise pick first", () => {
    const before = "localhost:*:*:postgres:pw\n*:*:*:dev@contoso.com:stale\n";
    expect(upsertPgpassEntry(before, key, "new")).toBe(
      "localhost:*:*:postgres:pw\nsrv.postgres.database.azure.com:5432:app:dev@contoso.com:new\n*:*:*:dev@contoso.com:stale\n",
    );
  });

  it("matches existing lines by their unescaped fields", () => {
    const odd = { host: "h", port: "5432", database: "d:b", user: "Team\\A" };
    const first = upsertPgpassEntry("", odd, "one");
    expect(first).toBe("h:5432:d\\:b:Team\\\\A:one\n");
    expect(upsertPgpassEntry(first, odd, "two")).toBe("h:5432:d\\:b:Team\\\\A:two\n");
  });

  it("defaults to PGPASSFILE, else ~/.pgpass", () => {
    expect(defaultPgpassFile({ PGPASSFILE: "/x/pass", HOME: "/home/u" })).toBe("/x/pass");
    if (process.platform !== "win32") expect(defaultPgpassFile({ HOME: "/home/u" })).toBe("/home/u/.pgpass");
  });
});

const payload = Buffer.from(
  JSON.stringify({ aud: "https://ossrdbms-aad.database.windows.net", upn: "dev@contoso.com" }),
).toString("base64url");
const TOKEN = `eyJhbGciOiJSUzI1NiJ9.${payload}.c2lnbmF0dXJl`;
const EXPIRES = Date.UTC(2030, 0, 1);

describe("entra-db pgpass", () => {
  let dir: string;
  beforeEach(async () => {
    dir = await mkdtemp(path.join(os.tmpdir(), "pgpass-"));
  });
  afterEach(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  function io(env: Record<string, string>) {
    const out: string[] = [];
    const err: string[] = [];
    const value: CliIo = {
      stdout: { write: (text: string) => out.push(text), isTTY: true },
      stderr: { write: (text: string) => err.push(text) },
      env,
      now: () => EXPIRES - 60 * 60_000,
      createCredential: () => ({ getToken: async () => ({ token: TOKEN, expiresOnTimestamp: EXPIRES }) }),
    };
    return { io: value, stdout: () => out.join(""), stderr: () => err.join("") };
  }

  it("writes PGPASSFILE with mode 0600, keeps other lines, prints the expiry and never the token", async () => {
    const file = path.join(dir, "pass");
    await writeFile(file, "other:5432:*:me:secret\n", { mode: 0o644 });
    const { io: cliIo, stdout } = io({
      PGPASSFILE: file,
      AZURE_POSTGRESQL_HOST: "srv.postgres.database.azure.com",
      AZURE_POSTGRESQL_DATABASE: "app",
    });
    // A terminal is fine: the token goes to the file only.
    expect(await pgpassCommand([], cliIo)).toBe(0);
    expect(await readFile(file, "utf8")).toBe(
      `other:5432:*:me:secret\nsrv.postgres.database.azure.com:5432:app:dev@contoso.com:${TOKEN}\n`,
    );
    if (process.platform !== "win32") expect((await stat(file)).mode & 0o777).toBe(0o600);
    expect(stdout()).not.toContain(TOKEN);
    expect(stdout()).toContain(
      "It expires at 2030-01-01T00:00:00.000Z (in 60 min): run entra-db pgpass again",
    );
    expect(stdout()).toContain(
      `Connect: psql "host=srv.postgres.database.azure.com port=5432 dbname=app user=dev@contoso.com sslmode=verify-full sslrootcert=${resolveCa(undefined, "postgresql", {}).file}"`,
    );
  });

  it("--file wins, a database-less target writes *, and a symlink is followed", async () => {
    const real = path.join(dir, "real-pgpass");
    const link = path.join(dir, "link");
    await writeFile(real, "");
    await symlink(real, link);
    const { io: cliIo } = io({ PGPASSFILE: path.join(dir, "unused") });
    expect(await pgpassCommand(["--host", "localhost", "--port", "6432", "--file", link], cliIo)).toBe(0);
    expect(await readFile(real, "utf8")).toBe(`localhost:6432:*:dev@contoso.com:${TOKEN}\n`);
    expect((await stat(path.join(dir, "unused")).catch(() => undefined)) === undefined).toBe(true);
  });

  it("refuses MySQL before fetching a token", async () => {
    const { io: cliIo } = io({ PGPASSFILE: path.join(dir, "p") });
    await expect(pgpassCommand(["-e", "mysql", "--host", "h"], cliIo)).rejects.toThrow(/postgresql only/);
  });
});

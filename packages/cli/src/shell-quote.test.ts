import { execFileSync } from "node:child_process";
import { describe, expect, it } from "vitest";
import { isCliError } from "./cli-error.js";
import { envLines, envVariables } from "./env-command.js";
import { cmdSet, exportLines, fishQuote, powershellQuote, shellQuote } from "./shell-quote.js";

/** Values that break naive quoting in at least one shell. */
const HOSTILE = `a'b"c $HOME \`id\` \\ ; & | * %PATH% ! ^ ‘x’ end`;

describe("shellQuote", () => {
  it("single-quotes and escapes embedded single quotes", () => {
    expect(shellQuote("plain")).toBe("'plain'");
    expect(shellQuote("it's")).toBe(`'it'\\''s'`);
    expect(shellQuote("")).toBe("''");
  });

  it("round-trips hostile values through real POSIX shells (sh and bash)", () => {
    const value = `${HOSTILE} \n line two`;
    for (const shell of ["sh", "bash"]) {
      const out = execFileSync(shell, ["-c", `${exportLines([["V", value]])} printf %s "$V"`], {
        encoding: "utf8",
      });
      expect(out).toBe(value);
    }
  });
});

// fish, PowerShell and cmd are not installed where these tests run: the exact text is asserted
// against each shell's documented quoting rules instead.
describe("quoting for fish, PowerShell and cmd", () => {
  it("fish: single quotes, with only \\' and \\\\ escaped", () => {
    expect(fishQuote("plain")).toBe("'plain'");
    expect(fishQuote(`it's`)).toBe(`'it\\'s'`);
    expect(fishQuote(`C:\\dir\\`)).toBe(`'C:\\\\dir\\\\'`);
    expect(fishQuote(`$HOME "x" (cmd) %p *`)).toBe(`'$HOME "x" (cmd) %p *'`);
    expect(exportLines([["PGUSER", "Team A's $dbas"]], "fish")).toBe(`set -gx PGUSER 'Team A\\'s $dbas'\n`);
  });

  it("PowerShell: verbatim strings, quotes doubled including the typographic single quotes", () => {
    expect(powershellQuote("plain")).toBe("'plain'");
    expect(powershellQuote(`it's`)).toBe(`'it''s'`);
    expect(powershellQuote(`$env:HOME "x" \`n %p \\`)).toBe(`'$env:HOME "x" \`n %p \\'`);
    expect(powershellQuote("‘a’ ‚b‛")).toBe("'‘‘a’’ ‚‚b‛‛'");
    expect(exportLines([["PGUSER", "Team A's $dbas"]], "powershell")).toBe(
      `$env:PGUSER = 'Team A''s $dbas'\n`,
    );
  });

  it('cmd: set "NAME=value" keeps & | < > ^ % and quotes inside, and refuses line breaks', () => {
    expect(cmdSet("V", `a "b" & c | d > e ^ %PATH% 100%`)).toBe(`set "V=a "b" & c | d > e ^ %PATH% 100%"`);
    expect(exportLines([["PGUSER", "Team A"]], "cmd")).toBe(`set "PGUSER=Team A"\n`);
    let error: unknown;
    try {
      cmdSet("V", "a\nb");
    } catch (caught) {
      error = caught;
    }
    expect(isCliError(error) && error.code).toBe("USAGE");
  });
});

describe("envLines", () => {
  const pg = { host: "h", port: 5432, database: "db", user: "u", token: "t" };

  it("writes the libpq variables with verify-full and the system store for PostgreSQL", () => {
    expect(envLines("postgresql", pg)).toBe(
      [
        "export PGHOST='h'",
        "export PGPORT='5432'",
        "export PGDATABASE='db'",
        "export PGUSER='u'",
        "export PGPASSWORD='t'",
        "export PGSSLMODE='verify-full'",
        "export PGSSLROOTCERT='system'",
        "",
      ].join("\n"),
    );
  });

  it("names the CA file as PGSSLROOTCERT", () => {
    expect(envVariables("postgresql", { ...pg, sslRootCert: "/ca dir/ca.pem" }).at(-1)).toEqual([
      "PGSSLROOTCERT",
      "/ca dir/ca.pem",
    ]);
  });

  it("writes every shell's own lines", () => {
    const values = { ...pg, user: "it's me", sslRootCert: "C:\\certs\\ca.pem" };
    expect(envLines("postgresql", values, "fish")).toContain("set -gx PGUSER 'it\\'s me'\n");
    expect(envLines("postgresql", values, "fish")).toContain(
      "set -gx PGSSLROOTCERT 'C:\\\\certs\\\\ca.pem'\n",
    );
    expect(envLines("postgresql", values, "powershell")).toContain("$env:PGUSER = 'it''s me'\n");
    expect(envLines("postgresql", values, "cmd")).toContain(`set "PGSSLROOTCERT=C:\\certs\\ca.pem"\n`);
  });

  it("writes the mysql client variables and leaves out an unknown database", () => {
    const text = envLines("mysql", { host: "h", port: 3306, user: "u", token: "t" });
    expect(text).toContain("export MYSQL_HOST='h'\n");
    expect(text).toContain("export MYSQL_TCP_PORT='3306'\n");
    expect(text).toContain("export MYSQL_PWD='t'\n");
    expect(text).not.toContain("export MYSQL_DATABASE");
  });

  it("names the flags that make the mysql and mariadb clients verify the server, as comments", () => {
    const text = envLines("mysql", { host: "h", port: 3306, user: "u", token: "t" });
    const comments = text.split("\n").filter((line) => line.startsWith("#"));
    expect(comments.join("\n")).toContain('mariadb --ssl-verify-server-cert --user="$MYSQL_USER"');
    expect(comments.join("\n")).toContain("mysql --ssl-mode=VERIFY_IDENTITY");
    expect(
      text
        .split("\n")
        .filter((line) => line !== "" && !line.startsWith("#"))
        .every((line) => line.startsWith("export ")),
    ).toBe(true);
  });

  it("adds --ssl-ca to the MySQL commands for a CA file, quoted and commented for each shell", () => {
    const values = { host: "h", port: 3306, user: "u", token: "t", sslRootCert: "/my ca.pem" };
    expect(envLines("mysql", values)).toContain(
      `#   mariadb --ssl-verify-server-cert --ssl-ca='/my ca.pem' --user="$MYSQL_USER" "$MYSQL_DATABASE"\n`,
    );
    expect(envLines("mysql", values, "powershell")).toContain(
      `#   mariadb --ssl-verify-server-cert --ssl-ca='/my ca.pem' --user="$env:MYSQL_USER" "$env:MYSQL_DATABASE"\n`,
    );
    const cmd = envLines("mysql", values, "cmd");
    expect(cmd).toContain(
      `REM   mariadb --ssl-verify-server-cert --ssl-ca="/my ca.pem" --user="%MYSQL_USER%"`,
    );
    expect(
      cmd
        .split("\n")
        .filter(Boolean)
        .every((line) => /^(set "|REM )/.test(line)),
    ).toBe(true);
  });
});

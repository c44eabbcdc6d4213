import { execFileSync } from "node:child_process";
import { describe, expect, it } from "vitest";
import { envLines } from "./env-command.js";
import { exportLines, shellQuote } from "./shell-quote.js";

describe("shellQuote", () => {
  it("single-quotes and escapes embedded single quotes", () => {
    expect(shellQuote("plain")).toBe("'plain'");
    expect(shellQuote("it's")).toBe(`'it'\\''s'`);
    expect(shellQuote("")).toBe("''");
  });

  it("round-trips hostile values through a real shell", () => {
    const value = `a'b"c $HOME \`id\` \\ ; & | * \n end`;
    const out = execFileSync("sh", ["-c", `${exportLines([["V", value]])} printf %s "$V"`], {
      encoding: "utf8",
    });
    expect(out).toBe(value);
  });
});

describe("envLines", () => {
  it("writes the libpq variables with verify-full for PostgreSQL", () => {
    expect(envLines("postgresql", { host: "h", port: 5432, database: "db", user: "u", token: "t" })).toBe(
      [
        "export PGHOST='h'",
        "export PGPORT='5432'",
        "export PGDATABASE='db'",
        "export PGUSER='u'",
        "export PGPASSWORD='t'",
        "export PGSSLMODE='verify-full'",
        "",
      ].join("\n"),
    );
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
    expect(comments.join("\n")).toContain("mariadb --ssl-verify-server-cert");
    expect(comments.join("\n")).toContain("mysql --ssl-mode=VERIFY_IDENTITY");
    expect(
      text
        .split("\n")
        .filter((line) => line !== "" && !line.startsWith("#"))
        .every((line) => line.startsWith("export ")),
    ).toBe(true);
  });
});

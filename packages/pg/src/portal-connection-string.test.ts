import { createFakeTokenProvider } from "@org/entra-core/testing";
import { parseIntoClientConfig } from "pg-connection-string";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { withEntra } from "./with-entra.js";

const env = {};
const HOST = "srv.postgres.database.azure.com";

/** What Azure's portal shows for a flexible server ("Connect"), without the password. */
const PORTAL_STRINGS = {
  url: `postgresql://dev%40contoso.com@${HOST}:5432/postgres?sslmode=require`,
  keywordValue: `host=${HOST} port=5432 dbname=postgres user=dev@contoso.com sslmode=require`,
};

describe("connection strings from Azure's portal (sslmode=require)", () => {
  const warnings: string[] = [];
  const onWarning = (warning: Error) => warnings.push(warning.message);
  beforeEach(() => {
    warnings.length = 0;
    process.on("warning", onWarning);
  });
  afterEach(() => {
    process.off("warning", onWarning);
  });

  /** Lets process.emitWarning (delivered on the next tick) arrive. */
  const settle = () => new Promise((resolve) => setImmediate(resolve));

  it("parses both forms into verified TLS without pg-connection-string's SECURITY WARNING", async () => {
    for (const connectionString of Object.values(PORTAL_STRINGS)) {
      const config = withEntra({ connectionString }, { tokenProvider: createFakeTokenProvider(), env });
      expect(config).toMatchObject({
        host: HOST,
        port: 5432,
        database: "postgres",
        user: "dev@contoso.com",
        ssl: { rejectUnauthorized: true },
      });
    }
    await settle();
    expect(warnings).toEqual([]);
    // The control: pg-connection-string itself still warns for this string in this process (it
    // warns once per process), so the silence above is ours.
    parseIntoClientConfig(PORTAL_STRINGS.url);
    await settle();
    expect(warnings.join("\n")).toMatch(/SECURITY WARNING/);
  });

  it("reads quoted and escaped keyword values as libpq does", () => {
    const config = withEntra(
      {
        connectionString: `host='${HOST}' dbname = 'my \\'db\\'' user=Team\\ A sslmode=verify-ca application_name=x`,
      },
      { tokenProvider: createFakeTokenProvider(), env },
    );
    expect(config).toMatchObject({ host: HOST, database: "my 'db'", user: "Team A", application_name: "x" });
    expect(config.ssl).toEqual({ rejectUnauthorized: true });
  });

  it("still refuses what would weaken TLS or carry a password, in either form", () => {
    const options = { tokenProvider: createFakeTokenProvider(), env };
    for (const connectionString of [
      `host=${HOST} user=u sslmode=disable`,
      `postgresql://u@${HOST}/db?uselibpqcompat=true&sslmode=require`,
      `host=${HOST} user=u sslmode=require uselibpqcompat=true`,
    ]) {
      expect(() => withEntra({ connectionString }, options), connectionString).toThrowError(
        expect.objectContaining({ code: "INSECURE_TRANSPORT" }),
      );
    }
    expect(() =>
      withEntra({ connectionString: `host=${HOST} user=u password=secret` }, options),
    ).toThrowError(expect.objectContaining({ code: "INVALID_SETTING" }));
  });
});

import { describe, expect, it } from "vitest";
import { parseConnectionUrl } from "./parse-connection-url.js";

const label = { setting: "mysql2 `uri`", adapter: "@org/mysql2-entra" };

describe("parseConnectionUrl", () => {
  it("decodes the parts and leaves out empty ones", () => {
    const parts = parseConnectionUrl("mysql://Team%20A@[::1]:3307/my%20db?ssl=true", label);
    expect(parts).toMatchObject({ host: "::1", port: 3307, user: "Team A", database: "my db" });
    expect(parts.params.get("ssl")).toBe("true");
    expect(parseConnectionUrl("mysql://h", label)).toEqual({
      host: "h",
      params: expect.any(URLSearchParams),
    });
  });

  it("refuses a URL with a password without repeating it, and a malformed one", () => {
    expect(() => parseConnectionUrl("mysql://u:s3cret@h/db", label)).toThrowError(
      expect.objectContaining({
        code: "INVALID_SETTING",
        message: expect.stringMatching(/^The mysql2 `uri` contains a password\./),
        hint: expect.stringContaining("@org/mysql2-entra"),
      }),
    );
    expect(() => parseConnectionUrl("not a url s3cret", label)).toThrowError(
      expect.objectContaining({ code: "INVALID_SETTING", message: expect.not.stringContaining("s3cret") }),
    );
  });
});

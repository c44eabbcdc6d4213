import { EntraAuthError } from "@org/entra-core";
import { describe, expect, test } from "vitest";
import { localRefusal, upstreamFailure } from "./proxy-failure.js";

const TOKEN = "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJwcm94eSJ9.c2lnbmF0dXJlLW9mLXRoZS1wcm94eS10b2tlbg";
const context = {
  engine: "postgresql" as const,
  upstream: "srv.postgres.database.azure.com:5432",
  token: TOKEN,
};

describe("what a local client of the proxy reads", () => {
  test("a server refusal is recognised as core recognises it, names the server, and marks the token for dropping", () => {
    const failure = upstreamFailure(undefined, {
      ...context,
      serverMessage: "The access token has expired. Please acquire a new token and retry.",
      serverCode: "28000",
    });
    expect(failure).toMatchObject({ code: "TOKEN_EXPIRED", invalidatesToken: true });
    expect(failure.text).toMatch(
      /^entra-db proxy: srv\.postgres\.database\.azure\.com:5432 refused the login: The access token has expired\. .* \[TOKEN_EXPIRED\] /,
    );
  });

  test("a server message that echoes the token is redacted", () => {
    const failure = upstreamFailure(undefined, { ...context, serverMessage: `bad password "${TOKEN}"` });
    expect(failure.code).toBe("UPSTREAM_REFUSED");
    expect(failure.text).not.toContain(TOKEN);
    expect(failure.text).not.toContain(TOKEN.split(".")[2]);
  });

  test("a provider error keeps its code and hint; a socket error is UPSTREAM_UNREACHABLE with a fix", () => {
    const provider = upstreamFailure(
      new EntraAuthError("CREDENTIAL_FAILED", "DefaultAzureCredential failed.", { hint: "Run az login." }),
      context,
    );
    expect(provider.text).toBe(
      "entra-db proxy: DefaultAzureCredential failed. Run az login. [CREDENTIAL_FAILED]",
    );
    const socket = upstreamFailure(
      Object.assign(new Error("connect ECONNREFUSED 10.0.0.4:5432"), { code: "ECONNREFUSED" }),
      context,
    );
    expect(socket.code).toBe("UPSTREAM_UNREACHABLE");
    expect(socket.text).toContain(
      "could not reach srv.postgres.database.azure.com:5432: connect ECONNREFUSED",
    );
    expect(socket.invalidatesToken).toBe(false);
  });

  test("the proxy's own refusals say what to do", () => {
    expect(localRefusal("LOCAL_PASSWORD").text).toContain("ENTRA_DB_PROXY_PASSWORD");
    expect(localRefusal("TOO_MANY_CONNECTIONS").text).toContain("--max-connections");
    expect(localRefusal("SHUTTING_DOWN").code).toBe("SHUTTING_DOWN");
  });
});

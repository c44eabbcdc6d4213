import { EntraAuthError, resetSharedTokenProviders } from "@org/entra-core";
import { createFakeTokenProvider } from "@org/entra-core/testing";
import { Connection, ConnectionError, RequestError } from "tedious";
import { afterEach, describe, expect, it } from "vitest";
import { explainEntraError, watchEntraErrors } from "./explain-entra-error.js";
import { withEntra } from "./with-entra.js";

const SERVER = "myserver.database.windows.net";
const PRINCIPAL = "Login failed for user '<token-identified principal>'.";

/** A config with an Entra credential that has handed out one token (so it knows its provider). */
async function setUp() {
  const provider = createFakeTokenProvider();
  const config = withEntra({ server: SERVER }, { tokenProvider: provider, env: {} });
  await config.authentication.options.credential.getToken("https://database.windows.net/.default");
  return { provider, config };
}

describe("Azure SQL login errors", () => {
  afterEach(() => resetSharedTokenProviders());

  it.each([
    [`${PRINCIPAL} Token is expired.`, "TOKEN_EXPIRED", 1],
    [`${PRINCIPAL} Incorrect or invalid token.`, "TOKEN_INVALID", 1],
    [`${PRINCIPAL} The server is not currently configured to accept this token.`, "TOKEN_INVALID", 1],
    [PRINCIPAL, "PRINCIPAL_UNKNOWN", 0],
  ])("explains %s as %s and drops the token when it is unusable", async (message, code, invalidations) => {
    const { provider, config } = await setUp();
    const error = new ConnectionError(message, "ELOGIN");
    expect(explainEntraError(error, config)).toBe(error);
    expect(error.message).toContain(message);
    expect(error.message).toContain(`[@org/tedious-entra ${code}]`);
    expect(error.code).toBe("ELOGIN");
    expect((error as { entraCode?: string }).entraCode).toBe(code);
    expect(Object.keys(error)).not.toContain("entraCode");
    expect(provider.invalidations).toBe(invalidations);
    if (code === "PRINCIPAL_UNKNOWN") expect(error.message).toContain("FROM EXTERNAL PROVIDER");
  });

  it("explains an error only once", async () => {
    const { provider, config } = await setUp();
    const error = new ConnectionError(`${PRINCIPAL} Token is expired.`, "ELOGIN");
    explainEntraError(explainEntraError(error, config), config);
    expect(error.message.match(/@org\/tedious-entra/g)).toHaveLength(1);
    expect(provider.invalidations).toBe(1);
  });

  it("leaves unknown errors and non-errors alone", () => {
    const error = new ConnectionError("Failed to connect to x:1433 in 15000ms", "ETIMEOUT");
    expect(explainEntraError(error).message).toBe("Failed to connect to x:1433 in 15000ms");
    expect(explainEntraError("text")).toBe("text");
  });

  it("gives tedious's empty EFEDAUTH AggregateError the credential's message", () => {
    const cause = new EntraAuthError("CREDENTIAL_FAILED", "DefaultAzureCredential gave no token.");
    const error = new AggregateError([
      new ConnectionError("Security token could not be authenticated or authorized.", "EFEDAUTH"),
      cause,
    ]);
    explainEntraError(error);
    expect(error.message).toBe(
      "Security token could not be authenticated or authorized. DefaultAzureCredential gave no token.",
    );
    expect((error as { code?: string; entraCode?: string }).code).toBe("EFEDAUTH");
    expect((error as { entraCode?: string }).entraCode).toBe("CREDENTIAL_FAILED");
  });

  it("explains mid-session error 37396 without dropping the (different) cached token", async () => {
    const { provider, config } = await setUp();
    const error = new RequestError(
      "Query cannot be executed, access token is expired. Please login with a new access token and execute query again.",
      "EREQUEST",
    );
    (error as { number?: number }).number = 37396;
    explainEntraError(error, config);
    expect(error.message).toContain("[@org/tedious-entra TOKEN_EXPIRED]");
    expect(error.message).toContain("new one");
    expect(provider.invalidations).toBe(0);
  });

  it("watchEntraErrors explains a failed login before the connect callback sees it", async () => {
    const { provider, config } = await setUp();
    const connection = new Connection(config);
    const seen: Error[] = [];
    connection.once("connect", (err) => err && seen.push(err));
    watchEntraErrors(connection);
    connection.emit("connect", new ConnectionError(`${PRINCIPAL} Token is expired.`, "ELOGIN"));
    expect(seen[0]?.message).toContain("[@org/tedious-entra TOKEN_EXPIRED]");
    expect(provider.invalidations).toBe(1);
    // Only the first connect event is watched.
    expect(connection.listenerCount("connect")).toBe(0);
  });

  it("watchEntraErrors reports error 37396 on an open session and detaches at end", async () => {
    const { config } = await setUp();
    const connection = new Connection(config);
    let expired = 0;
    watchEntraErrors(connection, { onSessionTokenExpired: () => expired++ });
    const token = { number: 37396, message: "Query cannot be executed, access token is expired." };
    connection.emit("errorMessage", { number: 208, message: "Invalid object name" } as never);
    connection.emit("errorMessage", token as never);
    expect(expired).toBe(1);
    connection.emit("end");
    connection.emit("errorMessage", token as never);
    expect(expired).toBe(1);
  });
});

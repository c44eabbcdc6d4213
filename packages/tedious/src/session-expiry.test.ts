import { CANARY_TOKEN, createFakeTokenProvider } from "@org/entra-core/testing";
import { Connection, ConnectionError } from "tedious";
import { describe, expect, it } from "vitest";
import { sessionExpiresSoon, sessionTokenExpiresOn, trackSessionExpiry } from "./session-expiry.js";
import { withEntra } from "./with-entra.js";

const SERVER = "myserver.database.windows.net";
const SQL_SCOPE = "https://database.windows.net/.default";
const HOUR = 3_600_000;

/**
 * A config whose credential hands out the token expiring at `expiry.next` (set by the test); tedious
 * calls `getToken` once per login, which `login()` stands in for.
 */
function setUp() {
  const expiry = { next: Date.now() + HOUR };
  const tokenProvider = createFakeTokenProvider({ scope: SQL_SCOPE });
  tokenProvider.getToken = async () => ({ token: CANARY_TOKEN, expiresOnTimestamp: expiry.next });
  const config = withEntra({ server: SERVER }, { tokenProvider, env: {} });
  const login = async (expiresOnTimestamp: number) => {
    expiry.next = expiresOnTimestamp;
    await config.authentication.options.credential.getToken(SQL_SCOPE);
  };
  return { config, login };
}

type LoggedInConnection = Connection & { state: unknown; STATE: { LOGGED_IN: unknown } };

describe("trackSessionExpiry and sessionExpiresSoon (retire a session before Azure SQL's 37396)", () => {
  it("learns the token a connection logged in with and retires the session a minute before it expires", async () => {
    const { config, login } = setUp();
    const expiresOn = Date.now() + HOUR;
    const connection = trackSessionExpiry(new Connection(config));
    await login(expiresOn);
    expect(sessionTokenExpiresOn(connection)).toBeUndefined(); // not logged in yet
    connection.emit("connect");
    expect(sessionTokenExpiresOn(connection)).toBe(expiresOn);
    expect(sessionExpiresSoon(connection)).toBe(false);
    expect(sessionExpiresSoon(connection, { now: () => expiresOn - 60_001 })).toBe(false);
    expect(sessionExpiresSoon(connection, { now: () => expiresOn - 60_000 })).toBe(true);
    expect(sessionExpiresSoon(connection, { now: () => expiresOn + 1 })).toBe(true);
  });

  it("keeps a short-lived token's session for three quarters of what it had left at login", async () => {
    const { config, login } = setUp();
    const loggedInAt = Date.now();
    const connection = trackSessionExpiry(new Connection(config), { now: () => loggedInAt });
    await login(loggedInAt + 4_000);
    connection.emit("connect");
    expect(sessionExpiresSoon(connection, { now: () => loggedInAt + 2_999 })).toBe(false);
    expect(sessionExpiresSoon(connection, { now: () => loggedInAt + 3_000 })).toBe(true);
  });

  it("ignores tokens handed out before the login started, and takes the earliest of those handed out during it", async () => {
    const { config, login } = setUp();
    const now = Date.now();
    await login(now + 10 * 60_000); // an earlier login's token
    // Handouts are stamped in milliseconds, and one in the login's first millisecond counts as its.
    await new Promise((resolve) => setTimeout(resolve, 2));
    const connection = trackSessionExpiry(new Connection(config));
    await login(now + 2 * HOUR);
    await login(now + HOUR); // another login at the same time: which one was ours is unknown
    connection.emit("connect");
    expect(sessionTokenExpiresOn(connection)).toBe(now + HOUR);
  });

  it("for a connection already logged in (knex's afterCreate), assumes the earliest valid token of its connect timeout", async () => {
    const { config, login } = setUp();
    const now = Date.now();
    await login(now - 1_000); // expired: no login can have used it just now
    await login(now + 20 * 60_000);
    await login(now + HOUR);
    const connection = new Connection(config) as LoggedInConnection;
    connection.state = connection.STATE.LOGGED_IN;
    trackSessionExpiry(connection);
    expect(sessionTokenExpiresOn(connection)).toBe(now + 20 * 60_000);
    // Idempotent: tracking again changes nothing.
    await login(now + 5 * 60_000);
    trackSessionExpiry(connection);
    expect(sessionTokenExpiresOn(connection)).toBe(now + 20 * 60_000);
  });

  it("knows nothing after a failed login, for a connection without an Entra credential, or an untracked one", async () => {
    const { config, login } = setUp();
    const failed = trackSessionExpiry(new Connection(config));
    await login(Date.now() + 1_000);
    failed.emit("connect", new ConnectionError("Login failed for user '<token-identified principal>'."));
    expect(sessionTokenExpiresOn(failed)).toBeUndefined();
    expect(sessionExpiresSoon(failed, { now: () => Date.now() + HOUR })).toBe(false);

    const plain = trackSessionExpiry(
      new Connection({
        server: SERVER,
        authentication: { type: "default", options: { userName: "sa", password: "x" } },
      }),
    );
    expect(plain.listenerCount("connect")).toBe(0);
    expect(sessionExpiresSoon(plain)).toBe(false);
    expect(sessionExpiresSoon(new Connection(config))).toBe(false);
  });
});

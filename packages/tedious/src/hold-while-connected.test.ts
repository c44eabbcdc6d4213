import { createTokenProvider, getSharedTokenProvider, resetSharedTokenProviders } from "@org/entra-core";
import { CANARY_TOKEN, createFakeTokenProvider } from "@org/entra-core/testing";
import { Connection, ConnectionError } from "tedious";
import { afterEach, describe, expect, it } from "vitest";
import { createEntraTokenCredential } from "./entra-token-credential.js";
import { holdWhileConnected } from "./hold-while-connected.js";
import { withEntra } from "./with-entra.js";

const SERVER = "myserver.database.windows.net";
const SQL_SCOPE = "https://database.windows.net/.default";

/** A credential that answers with an hour-long token, counting its calls. */
function source() {
  const credential = {
    calls: 0,
    async getToken() {
      credential.calls++;
      return { token: CANARY_TOKEN, expiresOnTimestamp: Date.now() + 3_600_000 };
    },
  };
  return credential;
}

/** A config whose Entra credential has handed out one token (as after the first login). */
async function setUp() {
  const credential = source();
  const config = withEntra({ server: SERVER }, { credential, env: {}, warmStart: false });
  await config.authentication.options.credential.getToken(SQL_SCOPE);
  const provider = getSharedTokenProvider({ credential, scope: SQL_SCOPE });
  return { config, provider };
}

describe("holdWhileConnected (tedious)", () => {
  afterEach(() => resetSharedTokenProviders());

  it("holds the credential's shared provider from a successful login until the connection ends", async () => {
    const { config, provider } = await setUp();
    const connection = holdWhileConnected(new Connection(config));
    expect(provider.stats.holds).toBe(0);
    connection.emit("connect");
    expect(provider.stats.holds).toBe(1);
    const other = holdWhileConnected(new Connection(config));
    other.emit("connect");
    expect(provider.stats.holds).toBe(2);
    connection.emit("end");
    other.emit("end");
    expect(provider.stats.holds).toBe(0);
  });

  it("holds nothing for a failed login (tedious emits connect with the error, then end)", async () => {
    const { config, provider } = await setUp();
    const connection = holdWhileConnected(new Connection(config));
    connection.emit("connect", new ConnectionError("Login failed for user '<token-identified principal>'."));
    connection.emit("end");
    expect(provider.stats.holds).toBe(0);
  });

  it("holds at once a connection that has already logged in (knex's afterCreate), once per connection", async () => {
    const { config, provider } = await setUp();
    const connection = new Connection(config) as Connection & {
      state: unknown;
      STATE: { LOGGED_IN: unknown };
    };
    connection.state = connection.STATE.LOGGED_IN;
    holdWhileConnected(connection);
    holdWhileConnected(connection);
    expect(provider.stats.holds).toBe(1);
    connection.emit("end");
    expect(provider.stats.holds).toBe(0);
  });

  it("leaves closed connections and connections without an Entra credential alone", async () => {
    const { config, provider } = await setUp();
    const closed = new Connection(config) as Connection & { closed: boolean };
    closed.closed = true;
    holdWhileConnected(closed);
    expect(closed.listenerCount("end")).toBe(0);
    const plain = new Connection({
      server: SERVER,
      authentication: { type: "default", options: { userName: "sa", password: "x" } },
    });
    holdWhileConnected(plain);
    expect(plain.listenerCount("end")).toBe(0);
    expect(provider.stats.holds).toBe(0);
  });

  it("credential.hold() holds every provider the credential handed tokens from; a fake tokenProvider is skipped", async () => {
    const credential = source();
    const entra = createEntraTokenCredential({ credential, env: {}, warmStart: false });
    await entra.getToken(SQL_SCOPE);
    await entra.getToken("https://database.chinacloudapi.cn/.default");
    const owner = {};
    const release = entra.hold(owner);
    const providers = [SQL_SCOPE, "https://database.chinacloudapi.cn/.default"].map((scope) =>
      getSharedTokenProvider({ credential, scope }),
    );
    expect(providers.map((p) => p.stats.holds)).toEqual([1, 1]);
    release();
    release();
    expect(providers.map((p) => p.stats.holds)).toEqual([0, 0]);

    const fake = createFakeTokenProvider();
    const own = createEntraTokenCredential({ tokenProvider: fake, env: {} });
    await own.getToken(SQL_SCOPE);
    expect(() => own.hold(owner)()).not.toThrow();
  });

  it("holds a tokenProvider of your own made by createTokenProvider", async () => {
    const credential = source();
    const provider = createTokenProvider({ credential, scope: SQL_SCOPE, backgroundRefresh: "while-held" });
    const entra = createEntraTokenCredential({ tokenProvider: provider, env: {} });
    await entra.getToken(SQL_SCOPE);
    const release = entra.hold({});
    expect(provider.stats.holds).toBe(1);
    release();
    expect(provider.stats.holds).toBe(0);
  });
});

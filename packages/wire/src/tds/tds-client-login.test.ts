import { createRequire } from "node:module";
import { describe, expect, it } from "vitest";
import {
  buildFedAuthLogin7,
  buildPreloginRequest,
  decodeLogin7Password,
  parseLoginResponse,
  readLogin7,
  withoutFedAuthAck,
} from "./tds-client-login.js";
import {
  buildDone,
  buildEnvChangeBytes,
  buildEnvChangeText,
  buildErrorToken,
  buildFeatureExtAck,
  buildInfoToken,
  buildLoginAck,
  DEFAULT_COLLATION,
  DoneStatus,
  Encryption,
  EnvChangeType,
  FeatureId,
  parseLogin7,
  parsePrelogin,
  TDS_VERSION_7_4,
  TdsProtocolError,
  TokenType,
} from "./tds-packets.js";
import { Login7Payload, PreloginPayload, StreamParser } from "./tds-tedious-internals.js";

/** tedious 19's handler of the login response, to see what it makes of a FEATUREEXTACK. */
const { Login7TokenHandler } = createRequire(import.meta.url)("tedious/lib/token/handler.js") as {
  Login7TokenHandler: new (connection: object) => { onFeatureExtAck(token: object): void };
};

async function parseWithTedious(payload: Buffer): Promise<Array<Record<string, unknown>>> {
  const debug = { log() {}, token() {}, payload() {}, data() {}, packet() {} };
  const options = {
    tdsVersion: "7_4",
    useUTC: true,
    lowerCaseGuids: false,
    camelCaseColumns: false,
    useColumnNames: false,
    columnNameReplacer: undefined,
  };
  const tokens: Array<Record<string, unknown>> = [];
  for await (const token of StreamParser.parseTokens([payload], debug, options)) tokens.push(token);
  return tokens;
}

/** The login error tedious records for a FEATUREEXTACK under `authentication` (undefined: accepted). */
function tediousAckVerdict(token: Record<string, unknown>, authentication: string): string | undefined {
  const connection: { config: object; loginError?: Error } = {
    config: { authentication: { type: authentication } },
  };
  new Login7TokenHandler(connection).onFeatureExtAck(token);
  return connection.loginError?.message;
}

/** A LOGIN7 as tedious 19 builds it. */
function tediousLogin7(fields: Record<string, unknown>, tdsVersion = TDS_VERSION_7_4): Buffer {
  const payload = new Login7Payload({
    tdsVersion,
    packetSize: 8192,
    clientProgVer: 0x13020200,
    clientPid: 4242,
    connectionId: 0,
    clientTimeZone: -120,
    clientLcid: 0x409,
  });
  Object.assign(payload, {
    hostname: "laptop",
    appName: "psql-ish",
    serverName: "127.0.0.1",
    libraryName: "Tedious",
    language: "us_english",
    database: "emulated-db",
    clientId: Buffer.from([1, 2, 3, 4, 5, 6]),
    ...fields,
  });
  return payload.toBuffer();
}

describe("PRELOGIN request", () => {
  it("is read by tedious's PreloginPayload and by parsePrelogin", () => {
    const payload = buildPreloginRequest({ version: [19, 2, 2, 0], threadId: 7 });
    const tedious = new PreloginPayload(payload) as unknown as Record<string, unknown>;
    expect(tedious).toMatchObject({
      version: { major: 19, minor: 2, build: 2, subbuild: 0 },
      encryptionString: "NOT_SUP",
      instance: 0,
      threadId: 7,
      marsString: "OFF",
      fedAuthRequired: 1,
    });
    expect(parsePrelogin(payload)).toEqual({
      encryption: Encryption.notSupported,
      fedAuthRequired: 1,
      version: "19.2.2.0",
    });
  });

  it("sends the ENCRYPTION asked for, MARS and no FEDAUTHREQUIRED when told", () => {
    const payload = buildPreloginRequest({
      encryption: Encryption.required,
      mars: true,
      fedAuthRequired: false,
    });
    const tedious = new PreloginPayload(payload) as unknown as Record<string, unknown>;
    expect(tedious).toMatchObject({ encryptionString: "REQ", marsString: "ON", version: { major: 0 } });
    expect(parsePrelogin(payload).fedAuthRequired).toBeUndefined();
  });
});

describe("LOGIN7 from a local client", () => {
  it("reads tedious's SQL-authentication LOGIN7 in full, the password de-obfuscated", () => {
    const login = readLogin7(tediousLogin7({ userName: "whoever", password: "pässwörd-🔑" }));
    expect(login).toMatchObject({
      tdsVersion: TDS_VERSION_7_4,
      packetSize: 8192,
      clientProgVer: 0x13020200,
      clientPid: 4242,
      connectionId: 0,
      clientTimeZone: -120,
      clientLcid: 0x409,
      hostName: "laptop",
      userName: "whoever",
      password: "pässwörd-🔑",
      appName: "psql-ish",
      serverName: "127.0.0.1",
      libraryName: "Tedious",
      language: "us_english",
      database: "emulated-db",
      clientId: Buffer.from([1, 2, 3, 4, 5, 6]),
      sspi: false,
      features: [{ id: FeatureId.utf8Support, data: Buffer.from([1]) }],
    });
    expect(decodeLogin7Password(Buffer.from([0xb3, 0xa5, 0x83, 0xa5]))).toBe("ab");
    expect(() => decodeLogin7Password(Buffer.from([1]))).toThrow(TdsProtocolError);
  });

  it("is rebuilt as the very LOGIN7 tedious sends for azure-active-directory-access-token", () => {
    const token = `eyJ${"a".repeat(3000)}.payload.signature`;
    const local = readLogin7(tediousLogin7({ userName: "whoever", password: "local" }));
    const rebuilt = buildFedAuthLogin7(local, { token, fedAuthEcho: true });
    const tedious = tediousLogin7({ fedAuth: { type: "SECURITYTOKEN", echo: true, fedAuthToken: token } });
    expect(rebuilt.equals(tedious)).toBe(true);
    expect(parseLogin7(rebuilt)).toMatchObject({
      userName: "",
      hasPassword: false,
      sspi: false,
      fedAuth: { library: "securitytoken", echo: true, token },
      utf8Support: true,
      features: [FeatureId.fedAuth, FeatureId.utf8Support],
    });
    expect(rebuilt.includes(Buffer.from("local", "utf16le"))).toBe(false);
  });

  it("overrides ServerName and the database, echoes as told, drops SSPI and change-password, raises TDS 7.3 to 7.4", () => {
    const local = readLogin7(
      tediousLogin7({ sspi: Buffer.from("NTLMSSP"), changePassword: "new" }, 0x730b0003),
    );
    expect(local).toMatchObject({ sspi: true, tdsVersion: 0x730b0003, features: [] });
    const rebuilt = buildFedAuthLogin7(
      {
        ...local,
        features: [
          { id: FeatureId.fedAuth, data: Buffer.from([0x05, 2]) },
          { id: 0x01, data: Buffer.alloc(0) },
        ],
      },
      { token: "t", fedAuthEcho: false, serverName: "srv.database.windows.net", database: "other" },
    );
    const parsed = parseLogin7(rebuilt);
    expect(parsed).toMatchObject({
      tdsVersion: TDS_VERSION_7_4,
      serverName: "srv.database.windows.net",
      database: "other",
      sspi: false,
      fedAuth: { library: "securitytoken", echo: false, token: "t" },
      features: [FeatureId.fedAuth, 0x01],
    });
    expect(rebuilt.readUInt8(27) & 0x11).toBe(0x10); // fExtension set, fChangePassword clear
    expect(rebuilt.readUInt16LE(88)).toBe(0); // cchChangePassword
    const tds8 = readLogin7(tediousLogin7({}));
    expect(
      buildFedAuthLogin7({ ...tds8, tdsVersion: 0x08000000 }, { token: "t", fedAuthEcho: true }).readUInt32LE(
        4,
      ),
    ).toBe(0x08000000);
  });

  it("rejects a LOGIN7 whose offsets leave the payload", () => {
    const payload = tediousLogin7({ userName: "u", password: "p" });
    const broken = Buffer.from(payload);
    broken.writeUInt16LE(0xfff0, 44); // ibPassword
    expect(() => readLogin7(broken)).toThrow(TdsProtocolError);
    expect(() => readLogin7(payload.subarray(0, 60))).toThrow(TdsProtocolError);
    const badExtension = Buffer.from(payload);
    badExtension.writeUInt32LE(payload.length + 10, badExtension.readUInt16LE(56));
    expect(() => readLogin7(badExtension)).toThrow(TdsProtocolError);
    const noTerminator = Buffer.from(payload.subarray(0, payload.length - 1));
    noTerminator.writeUInt32LE(noTerminator.length, 0);
    expect(() => readLogin7(noTerminator)).toThrow(TdsProtocolError);
  });
});

describe("login response", () => {
  const loginAck = buildLoginAck({
    tdsVersion: TDS_VERSION_7_4,
    progName: "Microsoft SQL Server",
    version: [12, 0, 2000, 0],
  });
  const success = (features: Array<[number, Buffer]>) =>
    Buffer.concat([
      buildEnvChangeText(EnvChangeType.database, "emulated-db", "master"),
      buildInfoToken({
        number: 5701,
        state: 2,
        class: 0,
        message: "Changed database context to 'emulated-db'.",
      }),
      buildEnvChangeBytes(EnvChangeType.collation, DEFAULT_COLLATION, Buffer.alloc(0)),
      loginAck,
      buildEnvChangeText(EnvChangeType.packetSize, "8192", "4096"),
      ...(features.length > 0 ? [buildFeatureExtAck(features)] : []),
      buildDone(),
    ]);

  it("reads LOGINACK, the packet size and the acknowledged features", () => {
    const response = parseLoginResponse(
      success([
        [FeatureId.fedAuth, Buffer.alloc(0)],
        [FeatureId.utf8Support, Buffer.from([1])],
      ]),
    );
    expect(response.tokens.map((token) => token.type)).toEqual([
      TokenType.envChange,
      TokenType.info,
      TokenType.envChange,
      TokenType.loginAck,
      TokenType.envChange,
      TokenType.featureExtAck,
      TokenType.done,
    ]);
    expect(response).toMatchObject({
      loginAck: { tdsVersion: TDS_VERSION_7_4, progName: "Microsoft SQL Server", version: "12.0.2000" },
      errors: [],
      routing: undefined,
      packetSize: 8192,
    });
    expect([...response.acknowledgedFeatures.keys()]).toEqual([FeatureId.fedAuth, FeatureId.utf8Support]);
  });

  it("drops the FEDAUTH acknowledgement tedious refuses from a SQL-auth login, keeping the rest byte for byte", async () => {
    const original = success([
      [FeatureId.fedAuth, Buffer.alloc(0)],
      [FeatureId.utf8Support, Buffer.from([1])],
    ]);
    const originalAck = (await parseWithTedious(original))[5] as Record<string, unknown>;
    expect(tediousAckVerdict(originalAck, "default")).toBe(
      "Did not request Active Directory authentication, but received the acknowledgment",
    );

    const forwarded = withoutFedAuthAck(parseLoginResponse(original));
    expect(forwarded.equals(success([[FeatureId.utf8Support, Buffer.from([1])]]))).toBe(true);
    const tokens = await parseWithTedious(forwarded);
    expect(tokens.map((token) => token.name)).toEqual([
      "ENVCHANGE",
      "INFO",
      "ENVCHANGE",
      "LOGINACK",
      "ENVCHANGE",
      "FEATUREEXTACK",
      "DONE",
    ]);
    expect(tokens[5]).toMatchObject({ fedAuth: undefined, utf8Support: true });
    expect(tediousAckVerdict(tokens[5] as Record<string, unknown>, "default")).toBeUndefined();
  });

  it("drops a FEATUREEXTACK left empty (tedious calls it an acknowledgement for an unknown feature) and keeps one without FEDAUTH", async () => {
    const emptyAck = (await parseWithTedious(buildFeatureExtAck([])))[0] as Record<string, unknown>;
    expect(tediousAckVerdict(emptyAck, "default")).toBe("Received acknowledgement for unknown feature");

    const onlyFedAuth = withoutFedAuthAck(
      parseLoginResponse(success([[FeatureId.fedAuth, Buffer.alloc(0)]])),
    );
    expect(onlyFedAuth.equals(success([]))).toBe(true);
    const withoutFedAuth = success([[FeatureId.utf8Support, Buffer.from([1])]]);
    expect(withoutFedAuthAck(parseLoginResponse(withoutFedAuth)).equals(withoutFedAuth)).toBe(true);
  });

  it("reads a refusal's ERROR tokens", () => {
    const response = parseLoginResponse(
      Buffer.concat([
        buildErrorToken({
          number: 4060,
          state: 1,
          class: 11,
          message: 'Cannot open database "x".',
          serverName: "srv",
        }),
        buildErrorToken({
          number: 18456,
          state: 233,
          class: 14,
          message: "Login failed for user '<token-identified principal>'. Token is expired.",
          serverName: "srv",
          procName: "p",
          lineNumber: 7,
        }),
        buildDone({ status: DoneStatus.error }),
      ]),
    );
    expect(response.loginAck).toBeUndefined();
    expect(response.errors).toEqual([
      {
        number: 4060,
        state: 1,
        class: 11,
        message: 'Cannot open database "x".',
        serverName: "srv",
        procName: "",
        lineNumber: 1,
      },
      {
        number: 18456,
        state: 233,
        class: 14,
        message: "Login failed for user '<token-identified principal>'. Token is expired.",
        serverName: "srv",
        procName: "p",
        lineNumber: 7,
      },
    ]);
  });

  it("reads a routing ENVCHANGE as tedious does", async () => {
    const server = "worker.tr1.eastus1-a.worker.database.windows.net\\inst";
    const value = Buffer.alloc(5 + 2 + server.length * 2);
    value.writeUInt16LE(value.length - 2, 0);
    value.writeUInt8(0, 2);
    value.writeUInt16LE(11_042, 3);
    value.writeUInt16LE(server.length, 5);
    value.write(server, 7, "utf16le");
    const body = Buffer.concat([Buffer.from([20]), value, Buffer.from([0, 0])]);
    const head = Buffer.from([TokenType.envChange, 0, 0]);
    head.writeUInt16LE(body.length, 1);
    const routed = Buffer.concat([loginAck, head, body, buildDone()]);
    expect(parseLoginResponse(routed).routing).toEqual({
      host: "worker.tr1.eastus1-a.worker.database.windows.net",
      port: 11_042,
      server,
    });
    const tokens = await parseWithTedious(routed);
    expect(tokens[1]).toMatchObject({ type: "ROUTING_CHANGE", newValue: { server, port: 11_042 } });
  });

  it("rejects truncated and unexpected tokens", () => {
    const valid = success([[FeatureId.utf8Support, Buffer.from([1])]]);
    expect(() => parseLoginResponse(valid.subarray(0, valid.length - 3))).toThrow(TdsProtocolError);
    expect(() => parseLoginResponse(Buffer.from([TokenType.colMetadata, 1, 0]))).toThrow(
      /Unexpected token 0x81/,
    );
    expect(() => parseLoginResponse(Buffer.from([TokenType.featureExtAck, 0x0a, 5, 0, 0, 0]))).toThrow(
      TdsProtocolError,
    );
    expect(() => parseLoginResponse(Buffer.from([TokenType.error, 2, 0, 1, 2]))).toThrow(TdsProtocolError);
    expect(() => parseLoginResponse(Buffer.from([TokenType.envChange, 0, 0]))).toThrow(TdsProtocolError);
  });
});

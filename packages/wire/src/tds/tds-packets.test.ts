import { describe, expect, it } from "vitest";
import {
  buildColMetadata,
  buildDone,
  buildEnvChangeBytes,
  buildEnvChangeText,
  buildErrorToken,
  buildFeatureExtAck,
  buildFedAuthInfo,
  buildLoginAck,
  buildPackets,
  buildPreloginResponse,
  buildReturnStatus,
  buildRow,
  DEFAULT_COLLATION,
  DoneStatus,
  Encryption,
  EnvChangeType,
  FeatureId,
  parseFedAuthToken,
  parseLogin7,
  parsePrelogin,
  parseRpcRequest,
  parseSqlBatch,
  parseTransactionManagerRequest,
  type ResultColumn,
  TDS_VERSION_7_4,
  TdsMessageReader,
  TdsPacketStatus,
  TdsPacketType,
  TdsProtocolError,
  TokenType,
  tlsFlightState,
} from "./tds-packets.js";
import { Login7Payload, PreloginPayload, StreamParser } from "./tds-tedious-internals.js";

/** Parses server tokens with tedious 19's own token parser. */
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

const allHeaders = (): Buffer => {
  const headers = Buffer.alloc(22);
  headers.writeUInt32LE(22, 0);
  headers.writeUInt32LE(18, 4);
  headers.writeUInt16LE(2, 8);
  headers.writeBigUInt64LE(7n, 10);
  headers.writeUInt32LE(1, 18);
  return headers;
};

describe("TDS packet framing", () => {
  it("splits a payload into numbered packets and reassembles it", () => {
    const payload = Buffer.alloc(10_000, 7);
    const wire = buildPackets(TdsPacketType.sqlBatch, payload, { packetSize: 4096, spid: 55 });
    expect(wire.length).toBe(10_000 + 3 * 8);
    expect(wire.readUInt8(1)).toBe(0);
    expect(wire.readUInt16BE(4)).toBe(55);
    const reader = new TdsMessageReader(1 << 20);
    // byte by byte at the start, then the rest
    for (const byte of wire.subarray(0, 20)) {
      reader.push(Buffer.from([byte]));
      expect(reader.readMessage()).toBeUndefined();
    }
    reader.push(wire.subarray(20));
    const message = reader.readMessage();
    expect(message?.type).toBe(TdsPacketType.sqlBatch);
    expect(message?.payload.equals(payload)).toBe(true);
    expect(reader.readMessage()).toBeUndefined();
  });

  it("sends a header-only packet for an empty payload", () => {
    expect(buildPackets(TdsPacketType.attention, Buffer.alloc(0))).toEqual(
      Buffer.from([TdsPacketType.attention, TdsPacketStatus.endOfMessage, 0, 8, 0, 0, 1, 0]),
    );
  });

  it("bounds messages, buffered bytes and packet lengths", () => {
    const reader = new TdsMessageReader(100);
    reader.push(buildPackets(TdsPacketType.sqlBatch, Buffer.alloc(200), { packetSize: 512 }));
    expect(() => reader.readMessage()).toThrow(TdsProtocolError);
    expect(() => new TdsMessageReader(10).push(Buffer.alloc(40_000))).toThrow(TdsProtocolError);
    const short = new TdsMessageReader(100);
    short.push(Buffer.from([0x12, 1, 0, 4, 0, 0, 1, 0]));
    expect(() => short.readMessage()).toThrow(/Bad packet length/);
  });

  it("rejects a packet of another type inside a message, flags IGNOREd messages and lets ATTENTION through", () => {
    const mixed = new TdsMessageReader(1000);
    const first = buildPackets(TdsPacketType.sqlBatch, Buffer.alloc(600), { packetSize: 512 });
    mixed.push(first.subarray(0, 512));
    mixed.push(buildPackets(TdsPacketType.rpc, Buffer.alloc(4)));
    expect(() => mixed.readMessage()).toThrow(/inside a message/);

    const ignored = new TdsMessageReader(1000);
    const packet = buildPackets(TdsPacketType.sqlBatch, Buffer.alloc(4));
    packet.writeUInt8(TdsPacketStatus.endOfMessage | TdsPacketStatus.ignore, 1);
    ignored.push(packet);
    expect(ignored.readMessage()).toMatchObject({ type: TdsPacketType.sqlBatch, ignored: true });

    const attention = new TdsMessageReader(1000);
    attention.push(first.subarray(0, 512));
    attention.push(buildPackets(TdsPacketType.attention, Buffer.alloc(0)));
    expect(attention.readMessage()).toMatchObject({ type: TdsPacketType.attention });
  });
});

describe("PRELOGIN", () => {
  it("reads tedious's PRELOGIN (encrypt on, FEDAUTHREQUIRED) and tedious reads the response", () => {
    const request = new PreloginPayload({
      encrypt: true,
      version: { major: 19, minor: 2, build: 2, subbuild: 0 },
    });
    expect(parsePrelogin(request.data)).toEqual({
      encryption: Encryption.on,
      fedAuthRequired: 1,
      version: "19.2.2.0",
    });
    expect(
      parsePrelogin(
        new PreloginPayload({ encrypt: false, version: { major: 1, minor: 0, build: 0, subbuild: 0 } }).data,
      ).encryption,
    ).toBe(Encryption.notSupported);

    const response = new PreloginPayload(
      buildPreloginResponse({
        version: [12, 0, 2000, 0],
        encryption: Encryption.required,
        fedAuthRequired: true,
      }),
    );
    expect(response.encryptionString).toBe("REQ");
    expect(response.fedAuthRequired).toBe(1);
    expect(response.version).toEqual({ major: 12, minor: 0, build: 2000, subbuild: 0 });
  });

  it("rejects malformed option tables", () => {
    expect(() => parsePrelogin(Buffer.from([0x00, 0x00, 0x40, 0x00, 0x06]))).toThrow(TdsProtocolError);
    expect(() => parsePrelogin(Buffer.from([0x00, 0x00]))).toThrow(TdsProtocolError);
    expect(() => parsePrelogin(Buffer.alloc(0))).toThrow(TdsProtocolError);
  });
});

describe("LOGIN7 and FEDAUTH", () => {
  const login = (fedAuth: unknown) => {
    const payload = new Login7Payload({
      tdsVersion: TDS_VERSION_7_4,
      packetSize: 8192,
      clientProgVer: 0,
      clientPid: 1,
      connectionId: 0,
      clientTimeZone: 0,
      clientLcid: 0x409,
    });
    Object.assign(payload, {
      fedAuth,
      hostname: "laptop",
      appName: "Tedious",
      serverName: "localhost",
      libraryName: "Tedious",
      database: "emulated-db",
      clientId: Buffer.from([1, 2, 3, 4, 5, 6]),
    });
    return payload.toBuffer();
  };

  it("reads a SECURITYTOKEN login (azure-active-directory-access-token)", () => {
    const token = `eyJ${"a".repeat(5000)}.x.y`;
    const parsed = parseLogin7(login({ type: "SECURITYTOKEN", echo: true, fedAuthToken: token }));
    expect(parsed).toMatchObject({
      tdsVersion: TDS_VERSION_7_4,
      packetSize: 8192,
      hostName: "laptop",
      userName: "",
      hasPassword: false,
      appName: "Tedious",
      database: "emulated-db",
      fedAuth: { library: "securitytoken", echo: true, token },
      utf8Support: true,
      features: [FeatureId.fedAuth, FeatureId.utf8Support],
    });
  });

  it("reads an ADAL login (token-credential) and a FEDAUTH_TOKEN message", () => {
    expect(parseLogin7(login({ type: "ADAL", echo: false, workflow: "integrated" })).fedAuth).toEqual({
      library: "adal",
      echo: false,
      workflow: 2,
    });
    const token = "header.payload.signature";
    const bytes = Buffer.byteLength(token, "utf16le");
    const message = Buffer.alloc(8 + bytes);
    message.writeUInt32LE(bytes + 4, 0);
    message.writeUInt32LE(bytes, 4);
    message.write(token, 8, "utf16le");
    expect(parseFedAuthToken(message)).toBe(token);
    expect(() => parseFedAuthToken(message.subarray(0, 10))).toThrow(TdsProtocolError);
  });

  it("rejects LOGIN7 with offsets outside the payload", () => {
    const payload = login({ type: "SECURITYTOKEN", echo: true, fedAuthToken: "t" });
    const broken = Buffer.from(payload);
    broken.writeUInt16LE(0xfff0, 68); // ibDatabase
    expect(() => parseLogin7(broken)).toThrow(TdsProtocolError);
    expect(() => parseLogin7(payload.subarray(0, 50))).toThrow(TdsProtocolError);
    const badExtension = Buffer.from(payload);
    badExtension.writeUInt32LE(payload.length + 10, badExtension.readUInt16LE(56));
    expect(() => parseLogin7(badExtension)).toThrow(TdsProtocolError);
  });
});

describe("requests", () => {
  it("reads SQL_BATCH text after ALL_HEADERS", () => {
    expect(parseSqlBatch(Buffer.concat([allHeaders(), Buffer.from("SELECT 1", "utf16le")]))).toBe("SELECT 1");
    expect(() => parseSqlBatch(Buffer.from([0xff, 0xff, 0, 0]))).toThrow(TdsProtocolError);
  });

  it("reads sp_executesql with NVARCHAR, PLP NVARCHAR(MAX), INTN and BITN parameters", () => {
    const nvarchar = (name: string, value: string) => {
      const text = Buffer.from(value, "utf16le");
      const head = Buffer.alloc(1 + name.length * 2 + 1 + 1 + 2 + 5 + 2);
      let at = head.writeUInt8(name.length, 0);
      at += head.write(name, at, "utf16le");
      at = head.writeUInt8(0, at);
      at = head.writeUInt8(0xe7, at);
      at = head.writeUInt16LE(8000, at);
      at += DEFAULT_COLLATION.copy(head, at);
      head.writeUInt16LE(text.length, at);
      return Buffer.concat([head, text]);
    };
    const plp = (name: string, value: string) => {
      const text = Buffer.from(value, "utf16le");
      const head = Buffer.alloc(1 + name.length * 2 + 1 + 1 + 2 + 5);
      let at = head.writeUInt8(name.length, 0);
      at += head.write(name, at, "utf16le");
      at = head.writeUInt8(0, at);
      at = head.writeUInt8(0xe7, at);
      at = head.writeUInt16LE(0xffff, at);
      DEFAULT_COLLATION.copy(head, at);
      const length = Buffer.alloc(12);
      length.writeUInt32LE(0xfffffffe, 0);
      length.writeUInt32LE(0xffffffff, 4);
      length.writeUInt32LE(text.length, 8);
      return Buffer.concat([head, length, text, Buffer.alloc(4)]);
    };
    const intn = Buffer.concat([
      Buffer.from([2]),
      Buffer.from("@n", "utf16le"),
      Buffer.from([0, 0x26, 4, 4, 42, 0, 0, 0]),
    ]);
    const bitn = Buffer.concat([
      Buffer.from([2]),
      Buffer.from("@b", "utf16le"),
      Buffer.from([0, 0x68, 1, 1, 1]),
    ]);
    const date = Buffer.concat([
      Buffer.from([2]),
      Buffer.from("@d", "utf16le"),
      Buffer.from([0, 0x28, 3, 1, 2, 3]),
    ]);
    const payload = Buffer.concat([
      allHeaders(),
      Buffer.from([0xff, 0xff, 10, 0, 0, 0]),
      plp("@statement", "SELECT @n"),
      nvarchar("@params", "@n int"),
      intn,
      bitn,
      date,
    ]);
    expect(parseRpcRequest(payload)).toEqual({
      procId: 10,
      procName: undefined,
      parameters: [
        { name: "@statement", value: "SELECT @n" },
        { name: "@params", value: "@n int" },
        { name: "@n", value: 42 },
        { name: "@b", value: true },
      ],
      truncated: true,
    });
    const byName = Buffer.concat([
      allHeaders(),
      Buffer.from([3, 0]),
      Buffer.from("foo", "utf16le"),
      Buffer.from([0, 0]),
    ]);
    expect(parseRpcRequest(byName)).toMatchObject({ procName: "foo", parameters: [] });
    expect(() => parseRpcRequest(payload.subarray(0, 40))).toThrow(TdsProtocolError);
  });

  it("reads transaction manager requests with their descriptor", () => {
    const begin = Buffer.concat([allHeaders(), Buffer.from([5, 0, 0, 0])]);
    const request = parseTransactionManagerRequest(begin);
    expect(request.requestType).toBe(5);
    expect(request.descriptor.readBigUInt64LE(0)).toBe(7n);
  });
});

describe("server tokens, as tedious 19 parses them", () => {
  it("parses a login response", async () => {
    const tokens = await parseWithTedious(
      Buffer.concat([
        buildEnvChangeText(EnvChangeType.database, "emulated-db", "master"),
        buildEnvChangeBytes(EnvChangeType.collation, DEFAULT_COLLATION, Buffer.alloc(0)),
        buildLoginAck({
          tdsVersion: TDS_VERSION_7_4,
          progName: "Microsoft SQL Server",
          version: [12, 0, 2000, 0],
        }),
        buildEnvChangeText(EnvChangeType.packetSize, "8192", "4096"),
        buildFeatureExtAck([
          [FeatureId.fedAuth, Buffer.alloc(0)],
          [FeatureId.utf8Support, Buffer.from([1])],
        ]),
        buildDone(),
      ]),
    );
    expect(tokens.map((token) => token.name)).toEqual([
      "ENVCHANGE",
      "ENVCHANGE",
      "LOGINACK",
      "ENVCHANGE",
      "FEATUREEXTACK",
      "DONE",
    ]);
    expect(tokens[0]).toMatchObject({ type: "DATABASE", newValue: "emulated-db", oldValue: "master" });
    expect(tokens[2]).toMatchObject({
      interface: "SQL_TSQL",
      tdsVersion: "7_4",
      progName: "Microsoft SQL Server",
      progVersion: { major: 12, minor: 0, buildNumHi: 7, buildNumLow: 208 },
    });
    expect(tokens[3]).toMatchObject({ type: "PACKET_SIZE", newValue: 8192 });
    expect(tokens[4]).toMatchObject({ fedAuth: Buffer.alloc(0), utf8Support: true });
  });

  it("parses FEDAUTHINFO with the STS URL and the SQL SPN", async () => {
    const [token] = await parseWithTedious(
      buildFedAuthInfo({
        stsUrl: "https://login.microsoftonline.com/t/",
        spn: "https://database.windows.net/",
      }),
    );
    expect(token).toMatchObject({
      stsurl: "https://login.microsoftonline.com/t/",
      spn: "https://database.windows.net/",
    });
    expect(new URL("/.default", token?.spn as string).toString()).toBe(
      "https://database.windows.net/.default",
    );
  });

  it("parses ERROR, result sets, DONE variants and RETURNSTATUS", async () => {
    const columns: ResultColumn[] = [
      { name: "one", type: "int" },
      { name: "big", type: "bigint", nullable: true },
      { name: "flag", type: "bit", nullable: true },
      { name: "who", type: "nvarchar", length: 10, nullable: true },
    ];
    const tokens = await parseWithTedious(
      Buffer.concat([
        buildErrorToken({ number: 18456, state: 1, class: 14, message: "Login failed.", serverName: "srv" }),
        buildColMetadata(columns),
        buildRow(columns, [1, 2n ** 40n, true, "émulée-long-name"]),
        buildRow(columns, [2, null, null, null]),
        buildDone({ status: DoneStatus.count, rowCount: 2, curCmd: 0xc1 }, TokenType.doneInProc),
        buildReturnStatus(0),
        buildDone({ status: DoneStatus.attention }, TokenType.doneProc),
      ]),
    );
    expect(tokens[0]).toMatchObject({
      name: "ERROR",
      number: 18456,
      state: 1,
      class: 14,
      message: "Login failed.",
      serverName: "srv",
    });
    expect(
      ((tokens[1]?.columns ?? []) as Array<{ colName: string }>).map((column) => column.colName),
    ).toEqual(["one", "big", "flag", "who"]);
    expect(((tokens[2]?.columns ?? []) as Array<{ value: unknown }>).map((cell) => cell.value)).toEqual([
      1,
      String(2n ** 40n),
      true,
      "émulée-lon",
    ]);
    expect(((tokens[3]?.columns ?? []) as Array<{ value: unknown }>).map((cell) => cell.value)).toEqual([
      2,
      null,
      null,
      null,
    ]);
    expect(tokens[4]).toMatchObject({ name: "DONEINPROC", rowCount: 2 });
    expect(tokens[5]).toMatchObject({ name: "RETURNSTATUS", value: 0 });
    expect(tokens[6]).toMatchObject({ name: "DONEPROC", attention: true });
  });
});

describe("TLS flights inside PRELOGIN", () => {
  const record = (type: number, body: Buffer) => {
    const head = Buffer.from([type, 3, 3, 0, 0]);
    head.writeUInt16BE(body.length, 3);
    return Buffer.concat([head, body]);
  };
  const handshake = (type: number, length: number) => {
    const message = Buffer.alloc(4 + length);
    message.writeUInt8(type, 0);
    message.writeUIntBE(length, 1, 3);
    return message;
  };

  it("ends the first flight at ServerHelloDone and the last at CCS + Finished", () => {
    const hello = record(22, Buffer.concat([handshake(2, 40), handshake(11, 300)]));
    expect(tlsFlightState(hello)).toEqual({ complete: false, containsChangeCipherSpec: false });
    const done = record(22, Buffer.concat([handshake(12, 100), handshake(14, 0)]));
    expect(tlsFlightState(Buffer.concat([hello, done]))).toEqual({
      complete: true,
      containsChangeCipherSpec: false,
    });
    const ccs = record(20, Buffer.from([1]));
    expect(tlsFlightState(ccs)).toEqual({ complete: false, containsChangeCipherSpec: true });
    expect(tlsFlightState(Buffer.concat([ccs, record(22, Buffer.alloc(40, 9))]))).toEqual({
      complete: true,
      containsChangeCipherSpec: true,
    });
    expect(tlsFlightState(record(21, Buffer.from([2, 40]))).complete).toBe(true);
    expect(tlsFlightState(hello.subarray(0, 10)).complete).toBe(false);
  });
});

import net from "node:net";
import tls from "node:tls";
import { withEntra as withMssqlEntra } from "@org/mssql-entra";
import { withEntra as withMysqlEntra } from "@org/mysql2-entra";
import { withEntra as withPgEntra } from "@org/pg-entra";
import mssql from "mssql";
import mysql from "mysql2/promise";
import pg from "pg";
import { describe, expect, it } from "vitest";
import { useHarness } from "../src/use-harness.js";

/**
 * Seeded, bounded fuzzing of both gateways with malformed and truncated protocol messages while a
 * well-behaved client keeps working. An uncaught error inside the emulator fails the run (vitest
 * reports it), so "never crashes" is checked too.
 */

const SEED = Number(process.env.ENTRA_FUZZ_SEED ?? 20261126);
const CASES = Number(process.env.ENTRA_FUZZ_CASES ?? 150);

/** mulberry32: a tiny deterministic PRNG, so a failing seed can be replayed. */
function prng(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function bytes(random: () => number, length: number): Buffer {
  return Buffer.from(Array.from({ length }, () => Math.floor(random() * 256)));
}

function int32(value: number): Buffer {
  const buffer = Buffer.alloc(4);
  buffer.writeInt32BE(value | 0);
  return buffer;
}

function mysqlPacket(sequence: number, payload: Buffer, declaredLength = payload.length): Buffer {
  const header = Buffer.from([
    declaredLength & 0xff,
    (declaredLength >> 8) & 0xff,
    (declaredLength >> 16) & 0xff,
    sequence,
  ]);
  return Buffer.concat([header, payload]);
}

/** PostgreSQL first messages: garbage, lies about lengths, truncated startups, bad protocol codes. */
function pgMessage(random: () => number): Buffer[] {
  const pick = Math.floor(random() * 7);
  switch (pick) {
    case 0:
      return [bytes(random, 1 + Math.floor(random() * 64))];
    case 1: // length far too large
      return [Buffer.concat([int32(0x7fffffff), int32(196608), bytes(random, 16)])];
    case 2: // truncated startup then silence/close
      return [Buffer.concat([int32(64), int32(196608), Buffer.from("user\0")])];
    case 3: // negative / tiny length
      return [Buffer.concat([int32(-5 + Math.floor(random() * 8)), bytes(random, 8)])];
    case 4: // unknown protocol code
      return [Buffer.concat([int32(8), int32(Math.floor(random() * 0x7fffffff))])];
    case 5: // startup with unterminated parameters
      return [Buffer.concat([int32(40), int32(196608), bytes(random, 32)])];
    default: // split into tiny chunks
      return [...bytes(random, 24)].map((b) => Buffer.from([b]));
  }
}

/** MySQL answers to the greeting: garbage, wrong sequence ids, lying lengths, truncated responses. */
function mysqlMessage(random: () => number): Buffer[] {
  const pick = Math.floor(random() * 6);
  switch (pick) {
    case 0:
      return [bytes(random, 1 + Math.floor(random() * 64))];
    case 1: // declares 16 MB, sends a few bytes
      return [mysqlPacket(1, bytes(random, 10), 0xffffff)];
    case 2: // wrong sequence id
      return [mysqlPacket(Math.floor(random() * 256), bytes(random, 40))];
    case 3: // a handshake response cut short
      return [mysqlPacket(1, Buffer.concat([Buffer.from([0x8d, 0xa2, 0x0b, 0x00]), bytes(random, 6)]))];
    case 4: // SSLRequest-sized packet with random flags, then garbage instead of a TLS ClientHello
      return [mysqlPacket(1, bytes(random, 32)), bytes(random, 50)];
    default:
      return [...bytes(random, 20)].map((b) => Buffer.from([b]));
  }
}

function tdsPacket(
  type: number,
  payload: Buffer,
  declaredLength = payload.length + 8,
  status = 0x01,
): Buffer {
  const header = Buffer.alloc(8);
  header.writeUInt8(type, 0);
  header.writeUInt8(status, 1);
  header.writeUInt16BE(declaredLength & 0xffff, 2);
  header.writeUInt8(1, 6); // packet id
  return Buffer.concat([header, payload]);
}

/** TDS first packets: garbage, unknown types, lying lengths, truncated PRELOGIN/LOGIN7, no EOM. */
function tdsMessage(random: () => number): Buffer[] {
  const pick = Math.floor(random() * 7);
  switch (pick) {
    case 0:
      return [bytes(random, 1 + Math.floor(random() * 64))];
    case 1: // PRELOGIN whose option table points past the end
      return [
        tdsPacket(0x12, Buffer.concat([Buffer.from([0x00, 0x00, 0xff, 0x00, 0x40]), bytes(random, 4)])),
      ];
    case 2: // header declares more than is sent
      return [tdsPacket(0x12, bytes(random, 10), 4096)];
    case 3: // header declares less than the header itself
      return [tdsPacket(0x12, bytes(random, 10), 3)];
    case 4: // LOGIN7 before PRELOGIN, random body
      return [tdsPacket(0x10, bytes(random, 30 + Math.floor(random() * 60)))];
    case 5: // unknown packet type, no end-of-message bit
      return [tdsPacket(Math.floor(random() * 256), bytes(random, 20), undefined, 0x00)];
    default:
      return [...bytes(random, 16)].map((b) => Buffer.from([b]));
  }
}

/** Sends the chunks, waits briefly for whatever the gateway does, and always tears down. */
async function poke(port: number, chunks: Buffer[], waitGreeting: boolean): Promise<void> {
  await new Promise<void>((resolve) => {
    const socket = net.connect({ host: "127.0.0.1", port });
    const finish = () => {
      clearTimeout(timer);
      socket.destroy();
      resolve();
    };
    const timer = setTimeout(finish, 150);
    socket.on("error", finish);
    socket.on("close", finish);
    const send = () => {
      for (const chunk of chunks) if (!socket.destroyed) socket.write(chunk);
    };
    if (waitGreeting) socket.once("data", send);
    else socket.once("connect", send);
  });
}

/**
 * Sends {@link CASES} malformed messages from `messages` to the gateway on `port`, one connection
 * each, while a well-behaved client runs `query` in a loop; resolves to what that client saw.
 */
async function fuzzWhileQuerying(
  query: () => Promise<unknown>,
  port: number,
  messages: () => Buffer[],
  waitGreeting = false,
): Promise<{ goodErrors: string[]; goodQueries: number }> {
  const goodErrors: string[] = [];
  let goodQueries = 0;
  let fuzzing = true;
  const good = (async () => {
    while (fuzzing) {
      await query().then(
        () => goodQueries++,
        (error: Error) => goodErrors.push(error.message),
      );
    }
  })();
  try {
    for (let i = 0; i < CASES; i++) await poke(port, messages(), waitGreeting);
  } finally {
    fuzzing = false;
    await good;
  }
  return { goodErrors, goodQueries };
}

const harness = useHarness({ engines: ["postgresql", "mysql", "sqlserver"] });

describe(`gateway fuzz (seed ${SEED}, ${CASES} cases per gateway)`, () => {
  it("PostgreSQL gateway: malformed input closes only that connection; a good client is unaffected", async () => {
    const port = Number(harness.emulator.env.AZURE_POSTGRESQL_PORT);
    const pool = new pg.Pool(withPgEntra({ ssl: harness.tls, max: 1 }));
    const random = prng(SEED);
    try {
      const { goodErrors, goodQueries } = await fuzzWhileQuerying(
        () => pool.query("select 1"),
        port,
        () => pgMessage(random),
      );
      // And a brand-new TLS login still works afterwards.
      const fresh = new pg.Client(withPgEntra({ ssl: harness.tls }));
      await fresh.connect();
      await fresh.end();
      expect(goodErrors).toEqual([]);
      expect(goodQueries).toBeGreaterThan(0);
    } finally {
      await pool.end();
    }
  });

  it("MySQL gateway: malformed input closes only that connection; a good client is unaffected", async () => {
    const port = Number(harness.emulator.env.AZURE_MYSQL_PORT);
    const pool = mysql.createPool(withMysqlEntra({ ssl: harness.tls, connectionLimit: 1 }));
    const random = prng(SEED ^ 0x5eed);
    try {
      const { goodErrors, goodQueries } = await fuzzWhileQuerying(
        () => pool.query("select 1"),
        port,
        () => mysqlMessage(random),
        true,
      );
      const fresh = await mysql.createConnection(withMysqlEntra({ ssl: harness.tls }));
      await fresh.end();
      expect(goodErrors).toEqual([]);
      expect(goodQueries).toBeGreaterThan(0);
    } finally {
      await pool.end();
    }
  });

  it("Azure SQL (TDS) endpoint: malformed input closes only that connection; a good client is unaffected", async () => {
    const port = Number(harness.emulator.env.AZURE_SQL_PORT);
    const pool = new mssql.ConnectionPool(
      withMssqlEntra({
        options: { cryptoCredentialsDetails: { ca: harness.tls.ca } },
        pool: { min: 0, max: 1 },
      }),
    );
    const random = prng(SEED ^ 0x7d5);
    await pool.connect();
    const { goodErrors, goodQueries } = await fuzzWhileQuerying(
      () => pool.request().query("SELECT 1 AS one"),
      port,
      () => tdsMessage(random),
    ).finally(() => pool.close());
    const fresh = new mssql.ConnectionPool(
      withMssqlEntra({ options: { cryptoCredentialsDetails: { ca: harness.tls.ca } } }),
    );
    await fresh.connect();
    await fresh.close();
    expect(goodErrors).toEqual([]);
    expect(goodQueries).toBeGreaterThan(0);
  });

  it("a TLS session that sends garbage after the handshake is closed without affecting others", async () => {
    const port = Number(harness.emulator.env.AZURE_POSTGRESQL_PORT);
    const random = prng(SEED + 1);
    for (let i = 0; i < 20; i++) {
      await new Promise<void>((resolve) => {
        const raw = net.connect({ host: "127.0.0.1", port }, () =>
          raw.write(Buffer.concat([int32(8), int32(80877103)])),
        );
        raw.once("data", () => {
          const secure = tls.connect({ socket: raw, ca: harness.tls.ca, servername: "localhost" }, () => {
            secure.write(bytes(random, 1 + Math.floor(random() * 200)));
          });
          const done = () => {
            secure.destroy();
            resolve();
          };
          secure.on("error", done);
          secure.on("close", done);
          setTimeout(done, 300);
        });
        raw.on("error", () => resolve());
      });
    }
    const client = new pg.Client(withPgEntra({ ssl: harness.tls }));
    await client.connect();
    await client.end();
  });
});

import mysql from "mysql2/promise";
import { afterAll, beforeAll, expect, test } from "vitest";
import {
  ensureMysqlBackendUser,
  type MysqlGatewayFixture,
  startMysqlGatewayFixture,
  withMysqlClient,
} from "./mysql-test-fixture.js";

let fixture: MysqlGatewayFixture;
beforeAll(async () => {
  await ensureMysqlBackendUser();
  fixture = await startMysqlGatewayFixture();
});
afterAll(() => fixture.close());

test("KILL QUERY with the thread id from the forwarded greeting interrupts a running query", async () => {
  const sleeper = await mysql.createConnection(fixture.clientConfig());
  sleeper.on("error", () => {});
  try {
    const started = Date.now();
    const sleeping = sleeper.query("select sleep(30) as slept").then(
      ([rows]) => rows as Array<{ slept: number }>,
      (error: Error & { errno?: number }) => error,
    );
    await new Promise((resolve) => setTimeout(resolve, 300));
    await withMysqlClient(fixture.clientConfig(), (killer) => killer.query(`KILL QUERY ${sleeper.threadId}`));
    const outcome = await sleeping;
    expect(Date.now() - started).toBeLessThan(10_000);
    // MariaDB returns 1 from an interrupted SLEEP; MySQL raises 1317.
    if (outcome instanceof Error) expect(outcome.errno).toBe(1317);
    else expect(outcome).toEqual([{ slept: 1 }]);
    const [after] = await sleeper.query("select 2 as two");
    expect(after).toEqual([{ two: 2 }]);
  } finally {
    sleeper.destroy();
  }
}, 20_000);

import { withEntra } from "@org/postgres-entra";
import postgres from "postgres";
import type { ConformanceTarget } from "../conformance.js";

/** `@org/postgres-entra` with postgres.js (`postgres`) `sql` instances. */
export const postgresTarget: ConformanceTarget = {
  name: "postgres.js",
  engine: "postgresql",
  async connectOnce(harness, { user, ...options } = {}) {
    const sql = postgres(withEntra({ ssl: harness.tls, max: 1, ...(user ? { user } : {}) }, options));
    try {
      const [row] = await sql<{ user: string }[]>`select current_user as user`;
      return row?.user ?? "";
    } finally {
      await sql.end();
    }
  },
  createPool(harness, size) {
    let connectionClosed = () => {};
    const sql = postgres({
      ...withEntra({ ssl: harness.tls, max: size }),
      // postgres.js has no call that closes one connection of its pool (and reserve() loses a
      // waiting reservation when another connection closes meanwhile), so each connection ends as
      // soon as it is idle, and cycles take turns: the next cycle's query finds no open
      // connection and signs in anew.
      idle_timeout: 0.001,
      onclose: () => connectionClosed(),
    });
    let turn: Promise<unknown> = Promise.resolve();
    return {
      native: sql,
      cycle() {
        const run = turn.then(async () => {
          const closed = new Promise<void>((resolve) => {
            connectionClosed = resolve;
          });
          await sql`select 1`;
          await closed;
        });
        turn = run.catch(() => {});
        return run;
      },
      close: () => sql.end(),
    };
  },
  insecureConfigs: (harness) => ({
    "ssl: false": () => withEntra({ ssl: false }),
    "rejectUnauthorized: false": () => withEntra({ ssl: { ...harness.tls, rejectUnauthorized: false } }),
    'ssl: "prefer"': () => withEntra({ ssl: "prefer" }),
    "sslmode=disable": () => withEntra("postgres://localhost/test?sslmode=disable"),
    "AZURE_POSTGRESQL_SSL=false": () =>
      withEntra(undefined, { env: { ...process.env, AZURE_POSTGRESQL_SSL: "false" } }),
  }),
  async connectPlaintext() {
    const sql = postgres(withEntra({ ssl: false, max: 1 }, { allowInsecure: true }));
    try {
      await sql`select 1`;
    } finally {
      await sql.end();
    }
  },
};

import { withEntra } from "@org/pg-entra";
import pg from "pg";
import type { ConformanceTarget } from "../conformance.js";

/** `@org/pg-entra` with `pg.Client` / `pg.Pool`. */
export const pgTarget: ConformanceTarget = {
  name: "pg",
  engine: "postgresql",
  async connectOnce(harness, { user, ...options } = {}) {
    const client = new pg.Client(withEntra({ ssl: harness.tls, ...(user ? { user } : {}) }, options));
    try {
      await client.connect();
      const { rows } = await client.query<{ user: string }>("select current_user as user");
      return rows[0]?.user ?? "";
    } finally {
      await client.end().catch(() => {});
    }
  },
  createPool(harness, size) {
    const pool = new pg.Pool(withEntra({ ssl: harness.tls, max: size }));
    return {
      native: pool,
      async cycle() {
        const client = await pool.connect();
        try {
          await client.query("select 1");
        } finally {
          client.release(true); // destroy: the next checkout authenticates a new physical connection
        }
      },
      close: () => pool.end(),
    };
  },
  insecureConfigs: (harness) => ({
    "ssl: false": () => withEntra({ ssl: false }),
    "rejectUnauthorized: false": () => withEntra({ ssl: { ...harness.tls, rejectUnauthorized: false } }),
    "sslmode=disable": () => withEntra({ connectionString: "postgres://localhost/test?sslmode=disable" }),
    "AZURE_POSTGRESQL_SSL=false": () =>
      withEntra(undefined, { env: { ...process.env, AZURE_POSTGRESQL_SSL: "false" } }),
  }),
  async connectPlaintext() {
    const client = new pg.Client(withEntra({ ssl: false }, { allowInsecure: true }));
    try {
      await client.connect();
    } finally {
      await client.end().catch(() => {});
    }
  },
};

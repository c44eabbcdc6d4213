import { withEntra } from "@org/mysql2-entra";
import mysql from "mysql2/promise";
import type { ConformanceTarget } from "../conformance.js";

const CURRENT_USER = "select substring_index(current_user(), '@', 1) as user";

/** `@org/mysql2-entra` with `mysql2/promise` connections and pools. */
export const mysql2Target: ConformanceTarget = {
  name: "mysql2",
  engine: "mysql",
  async connectOnce(harness, { user, ...options } = {}) {
    const connection = await mysql.createConnection(
      withEntra({ ssl: harness.tls, ...(user ? { user } : {}) }, options),
    );
    try {
      const [rows] = await connection.query<mysql.RowDataPacket[]>(CURRENT_USER);
      return String(rows[0]?.user);
    } finally {
      await connection.end().catch(() => {});
    }
  },
  createPool(harness, size) {
    const pool = mysql.createPool(withEntra({ ssl: harness.tls, connectionLimit: size }));
    return {
      native: pool,
      async cycle() {
        const connection = await pool.getConnection();
        try {
          await connection.query("select 1");
        } finally {
          connection.destroy(); // the next checkout authenticates a new physical connection
        }
      },
      close: () => pool.end(),
    };
  },
  insecureConfigs: (harness) => ({
    "ssl: false": () => withEntra({ ssl: false as never }),
    "rejectUnauthorized: false": () => withEntra({ ssl: { ...harness.tls, rejectUnauthorized: false } }),
    "SSL profile": () => withEntra({ ssl: "Amazon RDS" }),
    "AZURE_MYSQL_SSL=false": () =>
      withEntra(undefined, { env: { ...process.env, AZURE_MYSQL_SSL: "false" } }),
  }),
  async connectPlaintext() {
    const connection = await mysql.createConnection(
      withEntra({ ssl: false as never }, { allowInsecure: true }),
    );
    await connection.end();
  },
};

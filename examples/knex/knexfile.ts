import { withEntra } from "@org/knex-entra";
import type { Knex } from "knex";

/**
 * knex CLI configuration for Azure Database for PostgreSQL (or MySQL with `DB_CLIENT=mysql2`), signed
 * in with Microsoft Entra ID: no password anywhere. Host, port, database and user come from the
 * Service Connector variables (`AZURE_POSTGRESQL_*` or `AZURE_MYSQL_*`); the access token comes from
 * `DefaultAzureCredential` (managed identity in Azure, your `az login` locally).
 */
const client = process.env.DB_CLIENT === "mysql2" ? "mysql2" : "pg";

const config: Knex.Config = withEntra({
  client,
  // TLS with certificate verification; the CA of a private server (like the emulator's) comes from
  // NODE_EXTRA_CA_CERTS, which Node reads at start-up.
  connection: { ssl: true },
  pool: { min: 0, max: 5 },
  migrations: { directory: "./migrations", tableName: "knex_migrations", extension: "ts" },
  seeds: { directory: "./seeds", extension: "ts" },
});

export default config;

// sequelize-cli 6 imports this module and passes its default export to `new Sequelize(...)` as is
// (no JSON round trip), so the password function, auth plugins and `beforeConnect` hook that
// withEntra adds survive. Host, port, database and user come from the Service Connector variables
// (AZURE_POSTGRESQL_* or AZURE_MYSQL_*), which the emulator prints for local runs.
import { withEntra } from "@org/sequelize-entra";

/** `postgres` (default), `mysql` (mysql2 driver) or `mariadb` (mariadb connector). */
const dialect = process.env.DB_DIALECT ?? "postgres";

export default withEntra({ dialect, logging: false });

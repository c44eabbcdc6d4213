import "reflect-metadata";
import { withEntra } from "@org/typeorm-entra";
import { DataSource } from "typeorm";
import { Bookmark } from "./entities/bookmark.js";
import { CreateBookmark1764150000000 } from "./migrations/1764150000000-create-bookmark.js";

/**
 * The app's DataSource, also used by the TypeORM CLI (`-d src/data-source.ts`). Host, port,
 * database and user come from the Service Connector variables (`AZURE_POSTGRESQL_HOST`, `_PORT`,
 * `_DATABASE`, `_USER`); every new connection signs in with a fresh Entra access token over
 * verified TLS (the default CA store, plus `NODE_EXTRA_CA_CERTS` with the emulator).
 */
export const dataSource = new DataSource(
  withEntra({
    type: "postgres",
    entities: [Bookmark],
    migrations: [CreateBookmark1764150000000],
    migrationsTableName: "typeorm_migrations",
    synchronize: false,
  }),
);

import knex, { type Knex } from "knex";
import { type Options, Sequelize } from "sequelize";
import { DataSource as DataSource03 } from "typeorm";
import { DataSource as DataSource1 } from "typeorm1";

/** The DataSource surface both TypeORM majors share and the hostile attempts use. */
type DataSourceClass = new (
  options: never,
) => {
  initialize(): Promise<unknown>;
  destroy(): Promise<void>;
  readonly isInitialized: boolean;
};

/** The TypeORM majors under attack, by the name the matrix prints. */
export const TYPEORM_MAJORS = [
  ["typeorm 0.3", DataSource03 as unknown as DataSourceClass],
  ["typeorm 1", DataSource1 as unknown as DataSourceClass],
] as const;

/** Initializes a DataSource (one connection) and destroys it again. */
export async function openDataSource(DataSource: DataSourceClass, options: unknown): Promise<void> {
  const dataSource = new DataSource(options as never);
  try {
    await dataSource.initialize();
  } finally {
    if (dataSource.isInitialized) await dataSource.destroy();
  }
}

/** `authenticate()` on a Sequelize instance with a pool of one and no retries, then `close()`. */
export async function authenticateSequelize(options: Options): Promise<void> {
  const sequelize = new Sequelize({
    logging: false,
    pool: { max: 1, min: 0 },
    retry: { max: 0 },
    ...options,
  });
  try {
    await sequelize.authenticate();
  } finally {
    await sequelize.close().catch(() => {});
  }
}

/** One raw query on a knex instance with a pool of one, then `destroy()`. */
export async function knexQuery(config: Knex.Config, sql: string): Promise<void> {
  const db = knex({ pool: { min: 0, max: 1 }, log: { warn() {} }, ...config });
  try {
    await db.raw(sql);
  } finally {
    await db.destroy();
  }
}

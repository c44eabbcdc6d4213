import { EntraAuthError, type EntraOptions } from "@org/entra-core";
import { type PgEntraConfig, preparePgConnection } from "@org/pg-entra";
import type { ConnectionCredentials, TypeormOptionsView } from "./data-source-options-like.js";
import { splitExtra, toPort, withoutUndefined } from "./split-extra.js";

/**
 * The pg fields `@org/pg-entra` decides. TypeORM's `PostgresDriver.createPool` builds
 * `{ connectionString: url, host, user: username, password, database, port, ssl, ... }` and then
 * merges `extra` over it, so these keys in `extra` go through the adapter too.
 */
const PG_CONNECTION_KEYS = [
  "connectionString",
  "host",
  "port",
  "user",
  "password",
  "database",
  "ssl",
  "Client",
] as const;

/** One node after wiring: its TypeORM credentials and what must go into the shared `extra`. */
interface WiredNode {
  readonly credentials: Record<string, unknown>;
  /** When no user name is known: `@org/pg-entra`'s pg `Client` that learns it from the token. */
  readonly Client: unknown;
  /** Other pg fields that came from a URL (`application_name`, `options`, ...). */
  readonly other: Record<string, unknown>;
  readonly hasUser: boolean;
}

/**
 * Wires `@org/pg-entra` into the options of TypeORM's postgres driver: each node's `password`
 * becomes the token function, `ssl` the verified TLS setting, a `url` becomes fields.
 */
export function withEntraPostgres(view: TypeormOptionsView, options: EntraOptions): Record<string, unknown> {
  const { connection, rest } = splitExtra(view.extra, PG_CONNECTION_KEYS);

  if (!view.replication) {
    const { url: _url, ...withoutUrl } = view;
    const node = wireNode(view, connection, options);
    const extra = withoutUndefined({ ...rest, ...node.other, Client: node.Client });
    return {
      ...withoutUrl,
      ...node.credentials,
      ...(view.extra !== undefined || Object.keys(extra).length > 0 ? { extra } : {}),
    };
  }

  // TypeORM reads ssl per node; a top-level `ssl` would be ignored, so nodes inherit it.
  const { master, slaves } = view.replication;
  const nodes = [master, ...slaves].map((node) =>
    wireNode({ ...node, ssl: node.ssl ?? view.ssl }, connection, options),
  );
  if (nodes.some((node) => Object.keys(node.other).length > 0)) {
    throw new EntraAuthError(
      "INVALID_SETTING",
      "A replication node's url carries pg parameters that TypeORM could only pass through the shared `extra`.",
      {
        hint: "Give each node `host`, `port`, `username` and `database` fields, or a URL without query parameters.",
      },
    );
  }
  if (nodes.some((node) => node.hasUser) && nodes.some((node) => !node.hasUser)) {
    throw new EntraAuthError(
      "USERNAME_UNRESOLVED",
      "Some replication nodes have a username and others have none.",
      {
        hint: "Give every node a `username`, or pass `username` in the Entra options (or set AZURE_POSTGRESQL_USER).",
      },
    );
  }
  const [wiredMaster, ...wiredSlaves] = nodes as [WiredNode, ...WiredNode[]];
  const extra = withoutUndefined({ ...rest, Client: wiredMaster.Client });
  return {
    ...view,
    replication: {
      ...view.replication,
      master: withoutUrl(master, wiredMaster),
      slaves: slaves.map((slave, index) => withoutUrl(slave, wiredSlaves[index] as WiredNode)),
    },
    ...(view.extra !== undefined || Object.keys(extra).length > 0 ? { extra } : {}),
  };
}

function withoutUrl(node: ConnectionCredentials, wired: WiredNode): Record<string, unknown> {
  const { url: _url, ...rest } = node;
  return { ...rest, ...wired.credentials };
}

function wireNode(
  node: ConnectionCredentials,
  extraConnection: Record<string, unknown>,
  options: EntraOptions,
): WiredNode {
  // The pg config TypeORM would hand to `new pg.Pool` for this node (minus pool tuning).
  const pgConfig = {
    ...withoutUndefined({
      connectionString: node.url,
      host: node.host,
      port: node.port,
      user: node.username,
      password: node.password,
      database: node.database,
      ssl: node.ssl,
    }),
    ...extraConnection,
  } as PgEntraConfig;
  const { config, target, userLearningClient } = preparePgConnection(pgConfig, options);
  const { host, port, user, password, database, ssl, Client, connectionString: _parsed, ...other } = config;
  return {
    credentials: withoutUndefined({ host, port: toPort(port), username: user, password, database, ssl }),
    // TypeORM merges `extra` into the pg.Pool config, so pg's `Client` option reaches the pool.
    Client: target.user === undefined ? userLearningClient(Client) : Client,
    other: withoutUndefined(other),
    hasUser: target.user !== undefined,
  };
}

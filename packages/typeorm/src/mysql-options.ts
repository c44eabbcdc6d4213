import { EntraAuthError, type EntraOptions, scopeFor } from "@org/entra-core";
import { type Mysql2EntraConfig, prepareMysql2Connection } from "@org/mysql2-entra";
import type { ConnectionCredentials, TypeormOptionsView } from "./data-source-options-like.js";
import { parseTypeormUrl } from "./parse-typeorm-url.js";
import { splitExtra, toPort, withoutUndefined } from "./split-extra.js";

/**
 * The mysql2 fields `@org/mysql2-entra` decides. TypeORM's `MysqlDriver.createConnectionOptions`
 * builds `{ host, user: username, password, database, port, ssl, socketPath, insecureAuth, ... }`
 * and then merges `extra` over it, so these keys in `extra` go through the adapter too.
 */
const MYSQL_CONNECTION_KEYS = [
  "uri",
  "host",
  "port",
  "user",
  "password",
  "password1",
  "password2",
  "password3",
  "passwordSha1",
  "database",
  "ssl",
  "socketPath",
  "insecureAuth",
  "authPlugins",
  "authSwitchHandler",
  "stream",
] as const;

/** One node after wiring: its TypeORM credentials and what must go into the shared options. */
interface WiredNode {
  readonly credentials: Record<string, unknown>;
  /** `ssl` and `insecureAuth`: TypeORM passes the top-level values to every node. */
  readonly shared: Record<string, unknown>;
  /** `authPlugins`, `stream` (when no user name is known) and other mysql2 fields for `extra`. */
  readonly extra: Record<string, unknown>;
  readonly hasUser: boolean;
  readonly host: string | undefined;
}

/**
 * Wires `@org/mysql2-entra` into the options of TypeORM's mysql driver (types `mysql` and
 * `mariadb`): `extra.authPlugins` sends the token, `ssl` becomes the verified TLS object, and
 * TypeORM 0.3.x is told to load mysql2 (`connectorPackage: "mysql2"`).
 */
export function withEntraMysql(view: TypeormOptionsView, options: EntraOptions): Record<string, unknown> {
  refuseOtherConnector(view);
  const { connection, rest } = splitExtra(view.extra, MYSQL_CONNECTION_KEYS);
  const shared = withoutUndefined({ ssl: view.ssl, insecureAuth: view.insecureAuth });

  if (!view.replication) {
    const { url: _url, password: _password, ...withoutSecrets } = view;
    const node = wireNode(view, shared, connection, options);
    return {
      ...withoutSecrets,
      connectorPackage: "mysql2",
      ...node.credentials,
      ...node.shared,
      extra: { ...rest, ...node.extra },
    };
  }

  const { master, slaves } = view.replication;
  const nodes = [master, ...slaves].map((node) => wireNode(node, shared, connection, options));
  if (nodes.some((node) => node.hasUser) && nodes.some((node) => !node.hasUser)) {
    throw new EntraAuthError(
      "USERNAME_UNRESOLVED",
      "Some replication nodes have a username and others have none.",
      {
        hint: "Give every node a `username`, or pass `username` in the Entra options (or set AZURE_MYSQL_USER).",
      },
    );
  }
  if (options.scope === undefined && options.tokenProvider === undefined) {
    const scopes = new Set(nodes.map((node) => scopeFor("mysql", node.host)));
    if (scopes.size > 1) {
      throw new EntraAuthError(
        "INVALID_SETTING",
        "The replication nodes are in different Azure clouds, but TypeORM shares one `extra.authPlugins` between them.",
        { hint: "Use one DataSource per cloud, or pass `scope` in the Entra options." },
      );
    }
  }
  const [wiredMaster, ...wiredSlaves] = nodes as [WiredNode, ...WiredNode[]];
  return {
    ...view,
    connectorPackage: "mysql2",
    ...wiredMaster.shared,
    replication: {
      ...view.replication,
      master: replaceNode(master, wiredMaster),
      slaves: slaves.map((slave, index) => replaceNode(slave, wiredSlaves[index] as WiredNode)),
    },
    extra: { ...rest, ...wiredMaster.extra },
  };
}

function refuseOtherConnector(view: TypeormOptionsView): void {
  if (view.connectorPackage !== undefined && view.connectorPackage !== "mysql2") {
    throw new EntraAuthError(
      "INVALID_SETTING",
      `TypeORM is configured to use the "${String(view.connectorPackage)}" package, which cannot send an Entra access token.`,
      {
        hint: 'Remove `connectorPackage` (or set it to "mysql2") and install mysql2: @org/typeorm-entra sends the token through mysql2\'s authPlugins.',
      },
    );
  }
  if (view.driver !== undefined && !looksLikeMysql2(view.driver)) {
    throw new EntraAuthError("INVALID_SETTING", "The `driver` given to TypeORM is not mysql2.", {
      hint: "Pass the mysql2 module as `driver`, or remove `driver`: @org/typeorm-entra sends the token through mysql2's authPlugins.",
    });
  }
}

/** TypeORM's own test for a mysql2 module (`MysqlDriver.loadDependencies`). */
function looksLikeMysql2(driver: unknown): boolean {
  const module = driver as { version?: unknown; Connection?: { prototype?: { execute?: unknown } } } | null;
  return Boolean(module?.version) || typeof module?.Connection?.prototype?.execute === "function";
}

function replaceNode(node: ConnectionCredentials, wired: WiredNode): Record<string, unknown> {
  const { url: _url, password: _password, ...rest } = node;
  return { ...rest, ...wired.credentials };
}

function wireNode(
  node: ConnectionCredentials,
  shared: Record<string, unknown>,
  extraConnection: Record<string, unknown>,
  options: EntraOptions,
): WiredNode {
  // TypeORM lets the fields of `url` win over the explicit ones (`DriverUtils.buildDriverOptions`).
  const fromUrl = node.url ? parseTypeormUrl(node.url) : {};
  const fields = { ...withoutUndefined({ ...node, url: undefined }), ...fromUrl } as ConnectionCredentials;
  // The mysql2 config TypeORM would hand to `mysql2.createPool` for this node (minus pool tuning).
  const mysqlConfig = {
    ...withoutUndefined({
      host: fields.host,
      port: fields.port,
      user: fields.username,
      password: fields.password,
      database: fields.database,
      socketPath: fields.socketPath,
    }),
    ...shared,
    ...extraConnection,
  } as Mysql2EntraConfig;
  const { config, target, userLearningStream } = prepareMysql2Connection(mysqlConfig, options);
  const {
    host,
    port,
    user,
    password: _password,
    database,
    socketPath,
    ssl,
    insecureAuth,
    uri: _parsed,
    ...extra
  } = config;
  return {
    credentials: withoutUndefined({ host, port: toPort(port), username: user, database, socketPath }),
    shared: withoutUndefined({ ssl, insecureAuth }),
    extra: withoutUndefined(target.user === undefined ? { ...extra, stream: userLearningStream() } : extra),
    hasUser: target.user !== undefined,
    host,
  };
}

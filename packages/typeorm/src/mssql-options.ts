import type { EntraOptions } from "@org/entra-core";
import { type MssqlEntraConfig, withEntra as withMssqlEntra } from "@org/mssql-entra";
import type { ConnectionCredentials, TypeormOptionsView } from "./data-source-options-like.js";
import { parseTypeormUrl } from "./parse-typeorm-url.js";
import { splitExtra, toPort, withoutUndefined } from "./split-extra.js";

/**
 * The mssql config fields `@org/mssql-entra` decides. TypeORM's `SqlServerDriver.createPool` builds
 * `{ server: host, database, port, user: username, password, authentication, options, ... }` and
 * then merges `extra` over it, so these keys in `extra` go through the adapter too.
 */
const MSSQL_CONNECTION_KEYS = [
  "server",
  "port",
  "database",
  "user",
  "password",
  "domain",
  "authentication",
  "options",
  "token",
  "clientId",
  "clientSecret",
  "msiSecret",
  "encrypt",
  "trustServerCertificate",
  "beforeConnect",
] as const;

/** What TypeORM's mssql driver reads of the options, besides {@link TypeormOptionsView}. */
interface SqlServerOptionsView extends TypeormOptionsView {
  readonly authentication?: unknown;
  readonly domain?: string;
  readonly options?: Record<string, unknown>;
}

type WiredMssql = ReturnType<typeof withMssqlEntra>;

/**
 * Wires `@org/mssql-entra` into the options of TypeORM's mssql driver (0.3.x and 1.x):
 *
 * - `extra.authentication` becomes `{ type: "token-credential", options: { credential } }`.
 *   TypeORM's own `authentication` union has no `token-credential` member, and `extra` is merged
 *   last into the mssql config, so it always wins; the top-level `authentication` is removed
 *   (its type, if any, was checked: tedious's per-login `azure-active-directory-*` types and the
 *   secret-bearing ones are refused).
 * - `options.encrypt` defaults to `"strict"` (TDS 8; TypeORM types it as a boolean but passes the
 *   string to mssql/tedious as is) and `options.trustServerCertificate` to `false`.
 * - `extra.beforeConnect` watches each pooled connection for Entra login errors (yours still runs).
 * - `host`, `port`, `database` default to `AZURE_SQL_*`; a `url` becomes fields (no password in it).
 * - `username`, `password`, `domain` (NTLM), or a token / secret in `extra` are refused.
 */
export function withEntraMssql(view: SqlServerOptionsView, options: EntraOptions): Record<string, unknown> {
  const { connection, rest } = splitExtra(view.extra, MSSQL_CONNECTION_KEYS);
  const { url: _url, ...withoutUrl } = view;
  const extraHasOptions = connection.options !== undefined;

  if (!view.replication) {
    const wired = wireNode(view, view, connection, options);
    return {
      ...withoutUrl,
      ...entraNodeFields(wired),
      ...(extraHasOptions ? {} : { options: wired.options }),
      extra: sharedExtra(rest, wired, extraHasOptions),
    };
  }

  const { master, slaves } = view.replication;
  const [wiredMaster, ...wiredSlaves] = [master, ...slaves].map((node) =>
    wireNode(view, node, connection, options),
  ) as [WiredMssql, ...WiredMssql[]];
  const stripped = (node: ConnectionCredentials, wired: WiredMssql) => {
    const { url: _nodeUrl, ...fields } = node;
    return { ...fields, ...entraNodeFields(wired) };
  };
  return {
    ...withoutUrl,
    ...(extraHasOptions ? {} : { options: wiredMaster.options }),
    replication: {
      ...view.replication,
      master: stripped(master, wiredMaster),
      slaves: slaves.map((slave, index) => stripped(slave, wiredSlaves[index] as WiredMssql)),
    },
    extra: sharedExtra(rest, wiredMaster, extraHasOptions),
  };
}

/**
 * The mssql config TypeORM would build for one node (`extra` merged last), through `@org/mssql-entra`.
 * Top-level `options` are shared by every node; so is `extra`.
 */
function wireNode(
  view: SqlServerOptionsView,
  node: ConnectionCredentials & { authentication?: unknown; domain?: unknown },
  connection: Record<string, unknown>,
  options: EntraOptions,
): WiredMssql {
  const url = typeof node.url === "string" ? parseTypeormUrl(node.url) : {};
  const merged = { ...node, ...url };
  const config = withoutUndefined({
    server: merged.host,
    port: toPort(merged.port),
    database: merged.database,
    user: merged.username,
    password: merged.password,
    // TypeORM reads `domain` per node (with replication, the top-level one is not used).
    domain: node.domain,
    authentication: node.authentication,
    options: view.options,
    ...connection,
  });
  return withMssqlEntra(config as MssqlEntraConfig, options);
}

/** The TypeORM connection fields of a wired node: `host`, `port`, `database`. */
/** A node's wired fields, with TypeORM's own credential fields cleared: the token credential signs in. */
function entraNodeFields(wired: WiredMssql): Record<string, unknown> {
  return { ...nodeFields(wired), username: undefined, password: undefined, authentication: undefined };
}

function nodeFields(wired: WiredMssql): Record<string, unknown> {
  return withoutUndefined({ host: wired.server, port: toPort(wired.port), database: wired.database });
}

/** `extra` as TypeORM merges it over the mssql config: the Entra authentication, hook and TLS. */
function sharedExtra(
  rest: Record<string, unknown>,
  wired: WiredMssql,
  extraHasOptions: boolean,
): Record<string, unknown> {
  const {
    server: _server,
    port: _port,
    database: _database,
    user: _user,
    password: _password,
    domain: _domain,
    clientId: _clientId,
    options: tediousOptions,
    authentication,
    beforeConnect,
    ...others
  } = wired as WiredMssql & Record<string, unknown>;
  return {
    ...rest,
    // Left over from `extra`: top-level `encrypt` / `trustServerCertificate` (checked above).
    ...others,
    ...(extraHasOptions ? { options: tediousOptions } : {}),
    authentication,
    beforeConnect,
  };
}

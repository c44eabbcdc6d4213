import { readFileSync } from "node:fs";
import { EntraAuthError, parseConnectionUrl } from "@org/entra-core";

/** The fields of a postgres.js connection URL, as postgres.js options. */
export interface PostgresUrlFields {
  /** The options the URL sets: host, port, user, database and its query parameters. */
  readonly options: Record<string, unknown>;
  /**
   * The URL's TLS setting: the `sslmode` (or `ssl`) string, `"verify-full"` for
   * `sslrootcert=system`, or `{ ca }` with the contents of an `sslrootcert` file. `undefined` when
   * the URL has none.
   */
  readonly ssl?: unknown;
}

/** postgres.js options a URL query parameter sets (anything else becomes a connection parameter). */
const OPTION_PARAMETERS = new Set([
  "max",
  "sslnegotiation",
  "idle_timeout",
  "connect_timeout",
  "max_lifetime",
  "max_pipeline",
  "backoff",
  "keep_alive",
  "prepare",
  "debug",
  "fetch_types",
  "publications",
  "target_session_attrs",
]);

/** The numeric ones (`max` too, which postgres.js would keep as a string). */
const NUMERIC_PARAMETERS = new Set([
  "max",
  "idle_timeout",
  "connect_timeout",
  "max_lifetime",
  "max_pipeline",
  "backoff",
  "keep_alive",
]);

/** sslmode values that never verify; a CA file does not change what they mean. */
const UNVERIFIED_MODES = new Set(["disable", "allow", "prefer", "no-verify", "false"]);

const LABEL = { setting: "postgres.js connection URL", adapter: "@org/postgres-entra" } as const;

/**
 * Reads a postgres.js connection URL the way postgres.js does, into options: host (a comma list of
 * `host:port` for several hosts, as postgres.js takes it), port, user, database, the TLS setting,
 * the postgres.js options a query parameter may set (`max`, `idle_timeout`,
 * `target_session_attrs`...; `disable`/`false` mean `false`), and every other parameter as a
 * connection parameter (`application_name`...).
 *
 * @throws EntraAuthError `INVALID_SETTING` when the URL is malformed, holds a password or names an
 *   unreadable `sslrootcert` file (the error never repeats the URL).
 */
export function parsePostgresUrl(url: string): PostgresUrlFields {
  const authority = url.slice(url.indexOf("://") + 3).split(/[?/]/)[0] ?? "";
  const hosts = authority.slice(authority.lastIndexOf("@") + 1);
  const several = hosts.includes(",");
  // Several hosts (`h1:5432,h2:5433`) are no valid URL host: parse with the first, as postgres.js does.
  const single = several ? url.replace(hosts, hosts.split(",")[0] ?? "") : url;
  if (!URL.canParse(single)) {
    throw new EntraAuthError("INVALID_SETTING", `The ${LABEL.setting} is not a valid URL.`, {
      hint: "Use postgres://user@host:5432/database?sslmode=require, with user and database URL-encoded.",
    });
  }
  const { host, port, user, database, params } = parseConnectionUrl(single, LABEL);
  const options: Record<string, unknown> = {};
  const connection: Record<string, string> = {};
  if (several) options.host = decodeURIComponent(hosts);
  else if (host !== undefined) options.host = host;
  if (port !== undefined) options.port = port;
  if (user !== undefined) options.user = user;
  if (database !== undefined) options.database = database;
  let mode: string | undefined;
  let ca: string | undefined;
  for (const [key, value] of params) {
    if (key === "sslmode" || key === "ssl") mode = value;
    else if (key === "sslrootcert") {
      if (value !== "system") ca = readCa(value);
    } else if (OPTION_PARAMETERS.has(key)) {
      options[key] =
        value === "disable" || value === "false"
          ? false
          : NUMERIC_PARAMETERS.has(key)
            ? Number(value)
            : value;
    } else connection[key] = value;
  }
  if (params.get("sslrootcert") === "system") mode = "verify-full";
  if (Object.keys(connection).length > 0) options.connection = connection;
  const ssl = ca !== undefined && !UNVERIFIED_MODES.has(mode?.toLowerCase() ?? "") ? { ca } : mode;
  return ssl === undefined ? { options } : { options, ssl };
}

function readCa(file: string): string {
  try {
    return readFileSync(file, "utf8");
  } catch (error) {
    throw new EntraAuthError(
      "INVALID_SETTING",
      `The ${LABEL.setting} names sslrootcert=${file}, which cannot be read.`,
      {
        hint: "Point sslrootcert at a readable PEM file of the CA that issued the server's certificate (or leave it out: Azure's certificates chain to public CAs).",
        cause: error,
      },
    );
  }
}

import { EntraAuthError } from "./entra-auth-error.js";

/** The parts of a connection URL, URL-decoded; empty parts are left out. */
export interface ConnectionUrlParts {
  /** The host name or IP address; an IPv6 address without its brackets. */
  readonly host?: string;
  /** The port, when the URL names one. */
  readonly port?: number;
  /** The user name (never a password: a URL with one is refused). */
  readonly user?: string;
  /** The database: the URL's path without its leading `/`. */
  readonly database?: string;
  /** The query parameters, as given. */
  readonly params: URLSearchParams;
}

/** How {@link parseConnectionUrl} names the URL in its errors. */
export interface ConnectionUrlLabel {
  /** The setting, e.g. "mysql2 `uri`" or "TypeORM `url`". */
  readonly setting: string;
  /** The package that supplies the token instead, e.g. `@org/mysql2-entra`. */
  readonly adapter: string;
}

/**
 * Splits a `scheme://user@host:port/database?params` connection URL into URL-decoded parts (an
 * IPv6 host without its brackets), refusing one that carries a password: the adapters supply a
 * fresh token for each connection, and a password in a URL would win over it or leak with it.
 *
 * @example
 * ```ts
 * const { host, port, user, database } = parseConnectionUrl(uri, { setting: "mysql2 `uri`", adapter: "@org/mysql2-entra" });
 * ```
 *
 * @throws EntraAuthError `INVALID_SETTING` when the URL is malformed or has a password (the error
 *   never repeats the URL, which may hold a secret).
 */
export function parseConnectionUrl(text: string, label: ConnectionUrlLabel): ConnectionUrlParts {
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    throw new EntraAuthError("INVALID_SETTING", `The ${label.setting} is not a valid URL.`, {
      hint: "Use mysql://user@host:3306/database, with user and database URL-encoded.",
    });
  }
  if (url.password !== "") {
    throw new EntraAuthError("INVALID_SETTING", `The ${label.setting} contains a password.`, {
      hint: `Remove the password from the URL: ${label.adapter} supplies a fresh Entra access token for each connection.`,
    });
  }
  const host = decodeURIComponent(url.hostname.startsWith("[") ? url.hostname.slice(1, -1) : url.hostname);
  const user = decodeURIComponent(url.username);
  const database = decodeURIComponent(url.pathname.slice(1));
  return {
    ...(host === "" ? {} : { host }),
    ...(url.port === "" ? {} : { port: Number.parseInt(url.port, 10) }),
    ...(user === "" ? {} : { user }),
    ...(database === "" ? {} : { database }),
    params: url.searchParams,
  };
}

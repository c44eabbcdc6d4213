/** The parts of a backend URL the emulator uses. */
export interface BackendUrl {
  /** Host name or address, IPv6 without brackets; `127.0.0.1` when the URL names none. */
  readonly host: string;
  /** The URL's port, else the engine's default port. */
  readonly port: number;
  /** The decoded user name; empty when the URL names none. */
  readonly user: string;
  /** The decoded password; undefined when the URL has none. */
  readonly password?: string;
  /** The decoded database (the path without its slash); empty when the URL names none. */
  readonly database: string;
}

/** What {@link parseBackendUrl} accepts. */
export interface BackendUrlRules {
  /** Accepted schemes with their colon, e.g. `["postgres:", "postgresql:"]`. */
  readonly protocols: readonly string[];
  /** The port when the URL names none, e.g. 5432. */
  readonly defaultPort: number;
  /** The message of the `TypeError` thrown for anything else. */
  readonly invalid: string;
}

/**
 * Reads a backend URL such as `postgres://user:secret@127.0.0.1:5432/app`. Throws a `TypeError`
 * with `rules.invalid` when it is not a URL with one of the accepted schemes.
 *
 * @example
 * parseBackendUrl("mysql://root@[::1]/test", { protocols: ["mysql:"], defaultPort: 3306, invalid: "bad URL" });
 * // { host: "::1", port: 3306, user: "root", password: undefined, database: "test" }
 */
export function parseBackendUrl(text: string, rules: BackendUrlRules): BackendUrl {
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    throw new TypeError(rules.invalid);
  }
  if (!rules.protocols.includes(url.protocol)) throw new TypeError(rules.invalid);
  return {
    host: url.hostname.replace(/^\[(.*)\]$/, "$1") || "127.0.0.1",
    port: url.port ? Number(url.port) : rules.defaultPort,
    user: decodeURIComponent(url.username),
    password: url.password ? decodeURIComponent(url.password) : undefined,
    database: decodeURIComponent(url.pathname.replace(/^\//, "")),
  };
}

/** Output dialects of a MySQL URL: which client's TLS parameters it carries. */
export type MysqlUrlFormat = "mysql" | "prisma" | "mysql2";

/** What a connection URL is built from. */
export interface ConnectionUrlParts {
  /** The URL scheme: `postgresql://` or `mysql://`. */
  readonly engine: "postgresql" | "mysql";
  /** The server's host name; an IPv6 address is put in brackets. */
  readonly host: string;
  /** Defaults to 5432 (PostgreSQL) or 3306 (MySQL). */
  readonly port?: number | undefined;
  /** Absent: the URL names no database, and the client uses its default. */
  readonly database?: string | undefined;
  /** The database user name; URL-encoded in the URL. */
  readonly user: string;
  /** The access token, used as the password. */
  readonly token: string;
  /** MySQL only: which client's TLS parameters to write. Defaults to `"mysql"`. */
  readonly format?: MysqlUrlFormat | undefined;
}

/** Wraps an IPv6 literal in brackets, as URLs require. */
function urlHost(host: string): string {
  return host.includes(":") && !host.startsWith("[") ? `[${host}]` : host;
}

/** The TLS query string for each MySQL URL format; every one verifies the certificate and host name. */
const MYSQL_TLS: Readonly<Record<MysqlUrlFormat, string>> = {
  // MySQL's URI-like connection string (MySQL Shell, Connector/J and X DevAPI, sqlx): verify CA and host.
  mysql: "ssl-mode=VERIFY_IDENTITY",
  // Prisma (schema engine): TLS on, invalid certificates refused (its default is accept_invalid_certs).
  prisma: "sslaccept=strict",
  // mysql2 `uri`: query values are JSON-parsed. `ssl={}` would check the chain but not the host
  // name; only `verifyIdentity: true` does both. The cleartext plugin must be allowed.
  mysql2: `ssl=${encodeURIComponent(JSON.stringify({ verifyIdentity: true }))}&enableCleartextPlugin=true`,
};

/**
 * A connection URL with the user and token URL-encoded and certificate-verifying TLS required:
 * `postgresql://user:token@host:5432/db?sslmode=verify-full`, or for MySQL
 * `mysql://user:token@host:3306/db?ssl-mode=VERIFY_IDENTITY` (format `"mysql"`),
 * `?sslaccept=strict` (`"prisma"`) or `?ssl=%7B%22verifyIdentity%22%3Atrue%7D&enableCleartextPlugin=true` (`"mysql2"`).
 *
 * @example
 * ```ts
 * buildConnectionUrl({ engine: "postgresql", host: "srv.postgres.database.azure.com", database: "app", user: "dev@contoso.com", token });
 * // "postgresql://dev%40contoso.com:eyJ...@srv.postgres.database.azure.com:5432/app?sslmode=verify-full"
 * ```
 */
export function buildConnectionUrl(parts: ConnectionUrlParts): string {
  const postgres = parts.engine === "postgresql";
  const scheme = postgres ? "postgresql" : "mysql";
  const port = parts.port ?? (postgres ? 5432 : 3306);
  const path = parts.database ? `/${encodeURIComponent(parts.database)}` : "/";
  const query = postgres ? "sslmode=verify-full" : MYSQL_TLS[parts.format ?? "mysql"];
  const auth = `${encodeURIComponent(parts.user)}:${encodeURIComponent(parts.token)}`;
  return `${scheme}://${auth}@${urlHost(parts.host)}:${port}${path}?${query}`;
}

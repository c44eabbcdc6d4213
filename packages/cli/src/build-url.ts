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
  /**
   * The CA certificates the client verifies the server with: a file path, or `"system"` (the
   * default) for the operating system's store.
   * - PostgreSQL: always written as `sslrootcert` (`sslrootcert=system` needs libpq 16 or later).
   * - MySQL: a file is written as `ssl-ca` (format `mysql`) or `sslcert` (`prisma`); `"system"`
   *   adds nothing, those clients use the system store by default. For `mysql2` see `caPem`.
   */
  readonly sslRootCert?: string | undefined;
  /**
   * MySQL format `mysql2` only: the PEM text of the CA file, put into the `ssl` JSON as `ca`
   * (mysql2 takes certificates, not paths).
   */
  readonly caPem?: string | undefined;
}

/** Wraps an IPv6 literal in brackets, as URLs require. */
function urlHost(host: string): string {
  return host.includes(":") && !host.startsWith("[") ? `[${host}]` : host;
}

/** The TLS query string of a MySQL URL format; every one verifies the certificate and host name. */
function mysqlTls(format: MysqlUrlFormat, caFile: string | undefined, caPem: string | undefined): string {
  switch (format) {
    // MySQL's URI-like connection string (MySQL Shell, Connector/J and X DevAPI, sqlx): verify CA and host.
    case "mysql":
      return `ssl-mode=VERIFY_IDENTITY${caFile ? `&ssl-ca=${encodeURIComponent(caFile)}` : ""}`;
    // Prisma (schema engine): TLS on, invalid certificates refused (its default is accept_invalid_certs).
    case "prisma":
      return `sslaccept=strict${caFile ? `&sslcert=${encodeURIComponent(caFile)}` : ""}`;
    // mysql2 `uri`: query values are JSON-parsed. `ssl={}` would check the chain but not the host
    // name; only `verifyIdentity: true` does both. The cleartext plugin must be allowed.
    case "mysql2": {
      const ssl = caPem ? { verifyIdentity: true, ca: caPem } : { verifyIdentity: true };
      return `ssl=${encodeURIComponent(JSON.stringify(ssl))}&enableCleartextPlugin=true`;
    }
  }
}

/**
 * A connection URL with the user and token URL-encoded and certificate-verifying TLS required:
 * `postgresql://user:token@host:5432/db?sslmode=verify-full&sslrootcert=system` (or the CA file), or for MySQL
 * `mysql://user:token@host:3306/db?ssl-mode=VERIFY_IDENTITY` (format `"mysql"`),
 * `?sslaccept=strict` (`"prisma"`) or `?ssl=%7B%22verifyIdentity%22%3Atrue%7D&enableCleartextPlugin=true` (`"mysql2"`).
 *
 * @example
 * ```ts
 * buildConnectionUrl({ engine: "postgresql", host: "srv.postgres.database.azure.com", database: "app", user: "dev@contoso.com", token });
 * // "postgresql://dev%40contoso.com:eyJ...@srv.postgres.database.azure.com:5432/app?sslmode=verify-full&sslrootcert=system"
 * ```
 */
export function buildConnectionUrl(parts: ConnectionUrlParts): string {
  const postgres = parts.engine === "postgresql";
  const scheme = postgres ? "postgresql" : "mysql";
  const port = parts.port ?? (postgres ? 5432 : 3306);
  const path = parts.database ? `/${encodeURIComponent(parts.database)}` : "/";
  const rootCert = parts.sslRootCert || "system";
  const query = postgres
    ? `sslmode=verify-full&sslrootcert=${rootCert === "system" ? "system" : encodeURIComponent(rootCert)}`
    : mysqlTls(parts.format ?? "mysql", rootCert === "system" ? undefined : rootCert, parts.caPem);
  const auth = `${encodeURIComponent(parts.user)}:${encodeURIComponent(parts.token)}`;
  return `${scheme}://${auth}@${urlHost(parts.host)}:${port}${path}?${query}`;
}

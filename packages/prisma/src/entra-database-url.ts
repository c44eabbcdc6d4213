import {
  EMBEDDED_TOKEN_MINIMUM_VALIDITY_IN_MS,
  EntraAuthError,
  type EntraOptions,
  resolveEntraTarget,
} from "@org/entra-core";

/** What {@link entraDatabaseUrl} builds a URL for. Absent fields come from Service Connector variables. */
export interface EntraDatabaseUrlConfig {
  /** The Prisma datasource provider. */
  readonly provider: "postgresql" | "mysql" | "sqlserver";
  /** Server host. Defaults to `AZURE_POSTGRESQL_HOST` / `AZURE_MYSQL_HOST`. */
  readonly host?: string;
  /** Server port. Defaults to the `*_PORT` variable, then 5432 / 3306. */
  readonly port?: number;
  /** Database. Defaults to the `*_DATABASE` variable, then `postgres` (PostgreSQL). */
  readonly database?: string;
  /** Database user. Defaults to `options.username`, the `*_USER` variable, then the name in the token. */
  readonly user?: string;
}

const DEFAULT_PORT = { postgresql: 5432, mysql: 3306 } as const;

/**
 * A connection URL for Prisma's CLI (`prisma migrate deploy`, `db pull`) with the URL-encoded user
 * name and a current Entra access token as the password, and TLS required and verified:
 * `postgresql://user:token@host:5432/db?sslmode=require&sslaccept=strict` or
 * `mysql://user:token@host:3306/db?sslaccept=strict`. Prisma's migration engine reads only
 * `datasource.url` from `prisma.config.ts` and has no token hook, so the token goes in the URL; it
 * has at least 4 minutes left (`EMBEDDED_TOKEN_MINIMUM_VALIDITY_IN_MS`: a cached token with less is
 * replaced by a fresh one), long enough for a deployment step to connect. The URL is a secret: do not log it.
 *
 * @example
 * ```ts
 * // prisma.config.ts
 * import { defineConfig } from "prisma/config";
 * import { entraDatabaseUrl } from "@org/prisma-entra";
 *
 * export default async () =>
 *   defineConfig({ schema: "prisma/schema.prisma", datasource: { url: await entraDatabaseUrl({ provider: "postgresql" }) } });
 * ```
 *
 * Throws `EntraAuthError`: `MISSING_SETTING` without a host, `INSECURE_TRANSPORT` when
 * `*_SSL=false` (unless `allowInsecure`), `INVALID_SETTING` for `sqlserver`: Prisma's migration
 * engine cannot sign in to SQL Server with an Entra token in the URL (the error says what to use:
 * go-sqlcmd with `--authentication-method ActiveDirectoryDefault`, or a deployment-only SQL login).
 *
 * @param config - `provider` and optional connection fields. Required.
 * @param options - Credential, username and refresh options (the credential defaults to `DefaultAzureCredential`).
 */
export async function entraDatabaseUrl(
  config: EntraDatabaseUrlConfig,
  options: EntraOptions = {},
): Promise<string> {
  const engine = config?.provider;
  if (engine === "sqlserver") {
    throw new EntraAuthError(
      "INVALID_SETTING",
      'entraDatabaseUrl cannot build a URL for provider "sqlserver": Prisma\'s migration engine has no way to sign in to SQL Server with a Microsoft Entra access token from a URL.',
      {
        hint: 'For queries use createEntraAdapter({ provider: "sqlserver" }). For migrations, apply the SQL with go-sqlcmd, which signs in with Entra itself: `sqlcmd -S <server>.database.windows.net -d <db> --authentication-method ActiveDirectoryDefault -i prisma/migrations/<name>/migration.sql` (ActiveDirectoryManagedIdentity in Azure; generate SQL with `prisma migrate diff ... --script`), or keep a SQL login for the deployment step only.',
      },
    );
  }
  if (engine !== "postgresql" && engine !== "mysql") {
    throw new EntraAuthError("INVALID_SETTING", `Unknown provider "${String(engine)}".`, {
      hint: 'Pass provider: "postgresql" or "mysql".',
    });
  }
  const target = resolveEntraTarget(
    engine,
    { host: config.host, port: config.port, database: config.database, user: config.user },
    options,
  );
  const host = target.host;
  if (!host) {
    const variable = engine === "postgresql" ? "AZURE_POSTGRESQL_HOST" : "AZURE_MYSQL_HOST";
    throw new EntraAuthError("MISSING_SETTING", "No database host for the migration URL.", {
      hint: `Pass host or set ${variable}.`,
    });
  }
  if (target.settings.ssl === false && !target.allowInsecure) {
    throw new EntraAuthError(
      "INSECURE_TRANSPORT",
      `${engine === "postgresql" ? "AZURE_POSTGRESQL_SSL" : "AZURE_MYSQL_SSL"} is false; an Entra access token must only be sent over verified TLS.`,
      { hint: "Unset it (the URL always requires TLS), or pass allowInsecure: true only for local testing." },
    );
  }
  const port = target.port ?? DEFAULT_PORT[engine];
  const database = target.database ?? (engine === "postgresql" ? "postgres" : "");
  const { token } = await target.provider.getToken({
    minimumValidityInMs: EMBEDDED_TOKEN_MINIMUM_VALIDITY_IN_MS,
  });
  const user = target.userFor(token);
  const hostPart = host.includes(":") && !host.startsWith("[") ? `[${host}]` : host;
  const credentials = `${encodeURIComponent(user)}:${encodeURIComponent(token)}`;
  const path = `/${encodeURIComponent(database)}`;
  // Prisma's URL parameters: sslmode=require makes TLS mandatory (PostgreSQL); sslaccept=strict
  // makes the engine verify the certificate chain and host name instead of accepting any.
  const query = engine === "postgresql" ? "sslmode=require&sslaccept=strict" : "sslaccept=strict";
  return `${engine}://${credentials}@${hostPart}:${port}${path}?${query}`;
}

import { createRequire } from "node:module";
import { EntraAuthError } from "@org/entra-core";
import type sql from "mssql";

/** What mssql's parser adds besides `config` fields: the `Authentication` keyword, mapped. */
type ParsedConfig = sql.config & { authentication_type?: string };

/** Authentication types mssql derives from a connection string that carry a secret or are not Entra. */
const REFUSED_TYPES: Readonly<Record<string, string>> = {
  "azure-active-directory-password": "Authentication=Active Directory Password puts a password in the string",
  "azure-active-directory-access-token": "Token=... is a fixed access token that expires",
  "azure-active-directory-service-principal-secret": "Client Secret=... puts a secret in the string",
  ntlm: "a DOMAIN\\user User Id selects Windows (NTLM) authentication",
};

/**
 * Parses an ADO.NET-style connection string with mssql's own parser
 * (`ConnectionPool.parseConnectionString`, loaded only when a string is given), then checks it
 * carries no secret: a `Password`, `Token`, `Client Secret` or `MSI Secret`, or an
 * `Authentication` that is not Entra-compatible, is refused. `Authentication=Active Directory
 * Default` / `Integrated` / `Managed Identity` and `Client Id` are fine: `withEntra` replaces the
 * authentication and uses the client ID. `Encrypt=strict` is kept as `"strict"` (mssql's parser
 * alone reads it as `true`).
 *
 * @param connectionString - e.g. `Server=tcp:srv.database.windows.net,1433;Database=app;Authentication=Active Directory Default`.
 * @returns mssql config fields; absent keys are left to mssql's defaults (port 1433).
 * @throws EntraAuthError `INVALID_SETTING` when the string cannot be parsed or carries a secret.
 */
export function parseConnectionString(connectionString: string): sql.config {
  let parsed: ParsedConfig;
  try {
    parsed = loadMssql().ConnectionPool.parseConnectionString(connectionString) as ParsedConfig;
  } catch (error) {
    const reason = error instanceof Error ? redactSecrets(error.message) : "unknown error";
    throw new EntraAuthError(
      "INVALID_SETTING",
      `The mssql connection string could not be parsed: ${reason}`,
      {
        hint: "Use the ADO.NET form Server=tcp:<server>.database.windows.net,1433;Database=<db>, or pass a config object.",
      },
    );
  }
  for (const key of ["password", "token", "clientSecret", "msiSecret"] as const) {
    const value = (parsed as unknown as Record<string, unknown>)[key];
    if (typeof value === "string" && value !== "") {
      throw new EntraAuthError("INVALID_SETTING", `The mssql connection string contains a ${keyword(key)}.`, {
        hint: `Remove it: @org/mssql-entra supplies a fresh Entra access token for each connection.`,
      });
    }
  }
  const { authentication_type: type, ...config } = parsed;
  const refused = type === undefined ? undefined : REFUSED_TYPES[type];
  if (refused) {
    throw new EntraAuthError(
      "INVALID_SETTING",
      `The mssql connection string is not Entra-compatible: ${refused}.`,
      {
        hint: "Remove the Authentication keyword (or use Authentication=Active Directory Default): @org/mssql-entra supplies the Entra access token.",
      },
    );
  }
  if (/(?:^|;)\s*encrypt\s*=\s*["']?strict["']?\s*(?:;|$)/i.test(connectionString)) {
    // mssql's parser reads Encrypt=strict as `true`; keep TDS 8 strict encryption.
    config.options = { ...config.options, encrypt: "strict" };
  }
  return config;
}

function keyword(key: string): string {
  return key === "clientSecret" ? "Client Secret" : key === "msiSecret" ? "MSI Secret" : key;
}

/** Hides `Password=...` / `Pwd=...` values a parser error might quote. */
function redactSecrets(text: string): string {
  return text.replace(
    /\b(password|pwd|token|client secret|msi secret)\s*=\s*("[^"]*"|'[^']*'|\{[^}]*\}|[^;]*)/gi,
    "$1=***",
  );
}

function loadMssql(): typeof sql {
  return createRequire(import.meta.url)("mssql") as typeof sql;
}

import { EntraAuthError } from "@org/entra-core";
import type { ConnectionOptions } from "mysql2";

/**
 * Parses a mysql2 `uri` (`mysql://user@host:port/database?option=value`) into config fields the
 * way mysql2's own `ConnectionConfig.parseUrl` does: user, host, port and database are
 * URL-decoded, and query parameters are JSON-parsed when they can be (so `?ssl=true` is the
 * boolean `true`), else kept as strings. Empty parts are left out.
 *
 * @param uri - The connection URL. It must not contain a password.
 * @returns The fields it sets. Defaults to `{}` for a URL with no parts.
 * @throws EntraAuthError `INVALID_SETTING` when the URL is malformed or carries a password.
 */
export function parseUri(uri: string): ConnectionOptions {
  let url: URL;
  try {
    url = new URL(uri);
  } catch {
    // The URL may hold a secret: do not echo it.
    throw new EntraAuthError("INVALID_SETTING", "The mysql2 `uri` is not a valid URL.", {
      hint: "Use mysql://user@host:3306/database, with user and database URL-encoded.",
    });
  }
  if (url.password !== "") {
    throw new EntraAuthError("INVALID_SETTING", "The mysql2 `uri` contains a password.", {
      hint: "Remove the password from the URL: @org/mysql2-entra supplies a fresh Entra access token for each connection.",
    });
  }
  const fields: Record<string, unknown> = {};
  const host = decodeURIComponent(url.hostname.startsWith("[") ? url.hostname.slice(1, -1) : url.hostname);
  if (host !== "") fields.host = host;
  if (url.port !== "") fields.port = Number.parseInt(url.port, 10);
  const database = decodeURIComponent(url.pathname.slice(1));
  if (database !== "") fields.database = database;
  const user = decodeURIComponent(url.username);
  if (user !== "") fields.user = user;
  for (const [key, value] of url.searchParams) {
    if (key in fields || key === "password" || key === "password1" || key === "passwordSha1") {
      if (key.startsWith("password")) {
        throw new EntraAuthError("INVALID_SETTING", `The mysql2 \`uri\` contains a ${key} parameter.`, {
          hint: "Remove it: @org/mysql2-entra supplies a fresh Entra access token for each connection.",
        });
      }
      continue;
    }
    try {
      fields[key] = JSON.parse(value);
    } catch {
      fields[key] = value;
    }
  }
  return fields as ConnectionOptions;
}

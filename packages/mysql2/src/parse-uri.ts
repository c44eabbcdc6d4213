import { EntraAuthError, parseConnectionUrl } from "@org/entra-core";
import type { ConnectionOptions } from "mysql2";

/**
 * Parses a mysql2 `uri` (`mysql://user@host:port/database?option=value`) into config fields the
 * way mysql2's own `ConnectionConfig.parseUrl` does: user, host, port and database are
 * URL-decoded, and query parameters are JSON-parsed when they can be (so `?ssl=true` is the
 * boolean `true`), else kept as strings. Empty parts are left out.
 *
 * @param uri - The connection URL. It must not contain a password.
 * @returns The fields it sets.
 * @throws EntraAuthError `INVALID_SETTING` when the URL is malformed or carries a password.
 */
export function parseUri(uri: string): ConnectionOptions {
  const { params, ...parts } = parseConnectionUrl(uri, {
    setting: "mysql2 `uri`",
    adapter: "@org/mysql2-entra",
  });
  const fields: Record<string, unknown> = { ...parts };
  for (const [key, value] of params) {
    if (key === "password" || key === "password1" || key === "passwordSha1") {
      throw new EntraAuthError("INVALID_SETTING", `The mysql2 \`uri\` contains a ${key} parameter.`, {
        hint: "Remove it: @org/mysql2-entra supplies a fresh Entra access token for each connection.",
      });
    }
    if (key in fields) continue;
    try {
      fields[key] = JSON.parse(value);
    } catch {
      fields[key] = value;
    }
  }
  return fields as ConnectionOptions;
}

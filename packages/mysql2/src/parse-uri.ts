import { readFileSync } from "node:fs";
import { EntraAuthError, parseConnectionUrl } from "@org/entra-core";
import type { ConnectionOptions } from "mysql2";

/**
 * Parses a mysql2 `uri` (`mysql://user@host:port/database?option=value`) into config fields the
 * way mysql2's own `ConnectionConfig.parseUrl` does: user, host, port and database are
 * URL-decoded, and query parameters are JSON-parsed when they can be (so `?ssl=true` is the
 * boolean `true`), else kept as strings. Empty parts are left out. The MySQL client's own TLS
 * parameters, which mysql2 does not know (it would print "Ignoring invalid configuration option"),
 * are translated: `ssl-mode` `REQUIRED`, `VERIFY_CA`, `VERIFY_IDENTITY` (and `PREFERRED`) mean the
 * verified TLS this adapter always uses, `DISABLED` is `ssl: false` (refused by the TLS policy), and
 * `ssl-ca=<file>` becomes `ssl.ca` with the file's contents.
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
    if (key.toLowerCase() === "ssl-mode" || key.toLowerCase() === "sslmode") {
      const ssl = sslForMode(key, value);
      fields.ssl = ssl === false ? false : { ...asObject(fields.ssl), ...ssl };
      continue;
    }
    if (key.toLowerCase() === "ssl-ca") {
      fields.ssl = { ...asObject(fields.ssl), ca: readCa(value) };
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

function asObject(value: unknown): Record<string, unknown> {
  return typeof value === "object" && value !== null ? (value as Record<string, unknown>) : {};
}

/** The mysql2 `ssl` fields for a MySQL client `ssl-mode`. */
function sslForMode(key: string, mode: string): Record<string, unknown> | false {
  switch (mode.toUpperCase()) {
    case "DISABLED":
      return false;
    case "PREFERRED":
    case "REQUIRED":
    case "VERIFY_CA":
    case "VERIFY_IDENTITY":
      return { verifyIdentity: true };
    default:
      throw new EntraAuthError("INVALID_SETTING", `The mysql2 \`uri\` has ${key}=${mode}.`, {
        hint: "Use ssl-mode=VERIFY_IDENTITY (or leave it out: verified TLS is the default).",
      });
  }
}

function readCa(file: string): string {
  try {
    return readFileSync(file, "utf8");
  } catch (error) {
    throw new EntraAuthError(
      "INVALID_SETTING",
      `The mysql2 \`uri\` names ssl-ca=${file}, which cannot be read.`,
      {
        hint: "Point ssl-ca at a readable PEM file of the CA that issued the server's certificate.",
        cause: error,
      },
    );
  }
}

import { EntraAuthError } from "@org/entra-core";

/** The connection fields of a TypeORM `url`. */
export interface TypeormUrlFields {
  readonly host?: string;
  readonly port?: number;
  readonly username?: string;
  readonly database?: string;
}

/**
 * Parses a TypeORM MySQL `url` (`mysql://user@host:3306/database`) into the fields TypeORM's own
 * `DriverUtils.parseConnectionUrl` takes from it: user, host, port and database (URL-decoded);
 * like TypeORM, query parameters are ignored. Empty parts are left out.
 *
 * @param url - The connection URL. It must not contain a password.
 * @returns The fields it sets. Defaults to `{}` for a URL with no parts.
 * @throws EntraAuthError `INVALID_SETTING` when the URL is malformed or carries a password.
 */
export function parseTypeormUrl(url: string): TypeormUrlFields {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    // The URL may hold a secret: do not echo it.
    throw new EntraAuthError("INVALID_SETTING", "The TypeORM `url` is not a valid URL.", {
      hint: "Use mysql://user@host:3306/database, with user and database URL-encoded.",
    });
  }
  if (parsed.password !== "") {
    throw new EntraAuthError("INVALID_SETTING", "The TypeORM `url` contains a password.", {
      hint: "Remove the password from the URL: @org/typeorm-entra supplies a fresh Entra access token for each connection.",
    });
  }
  const host = decodeURIComponent(
    parsed.hostname.startsWith("[") ? parsed.hostname.slice(1, -1) : parsed.hostname,
  );
  const username = decodeURIComponent(parsed.username);
  const database = decodeURIComponent(parsed.pathname.slice(1));
  return {
    ...(host === "" ? {} : { host }),
    ...(parsed.port === "" ? {} : { port: Number.parseInt(parsed.port, 10) }),
    ...(username === "" ? {} : { username }),
    ...(database === "" ? {} : { database }),
  };
}

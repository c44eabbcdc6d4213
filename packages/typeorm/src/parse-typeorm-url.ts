import { parseConnectionUrl } from "@org/entra-core";

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
 * @returns The fields it sets.
 * @throws EntraAuthError `INVALID_SETTING` when the URL is malformed or carries a password.
 */
export function parseTypeormUrl(url: string): TypeormUrlFields {
  const {
    params: _ignored,
    user,
    ...parts
  } = parseConnectionUrl(url, {
    setting: "TypeORM `url`",
    adapter: "@org/typeorm-entra",
  });
  return { ...parts, ...(user === undefined ? {} : { username: user }) };
}

import { deriveUsername, servicePrincipalAppId, servicePrincipalUserHint } from "./derive-username.js";
import { logger } from "./logger.js";
import { serviceConnectorVariable } from "./resolve-settings.js";
import type { Engine } from "./scope-for.js";
import {
  describeServerAuthError,
  type ServerAuthErrorDescription,
  shouldInvalidateToken,
} from "./server-auth-errors.js";
import { recordServerRejection } from "./telemetry.js";

/** What {@link reactToServerRejection} knows about a login the server refused. */
export interface ServerRejection {
  /** The server that refused the login: it decides how its error is recognised. */
  readonly engine: Engine;
  /** The package reporting it, shown in the message as `[<adapter> <CODE>]`, e.g. `@org/pg-entra`. */
  readonly adapter: string;
  /** The server's own message when the driver keeps it apart from `error.message` (mysql2's `sqlMessage`). */
  readonly serverMessage?: string | undefined;
  /** The server's error number or SQLSTATE (e.g. MySQL 9119), when the driver kept it. */
  readonly serverCode?: number | string | undefined;
  /** The token the server refused, to name the principal it belongs to. */
  readonly token?: string | undefined;
  /** The user name the login used. */
  readonly user?: string | undefined;
  /** Where the adapter takes the user name, for the hint: `user` (drivers) or `username` (ORMs). */
  readonly userSetting?: "user" | "username" | undefined;
  /** What holds the refused token: invalidated when the server says it is expired or invalid. */
  readonly provider?:
    | {
        /** Drops the cached token if it is still `token`, so that the next connection fetches a new one. */
        invalidate(token?: string): void;
      }
    | undefined;
}

const ENGINE_NAME: Readonly<Record<Engine, string>> = {
  postgresql: "PostgreSQL",
  mysql: "MySQL",
  sqlserver: "Azure SQL",
};

/**
 * The one reaction of every adapter to a server that refused a login: recognises the server's
 * answer ({@link describeServerAuthError}), drops the cached token when it is expired or invalid
 * (so the next connection fetches a fresh one), names the principal the token belongs to when the
 * server does not know the user, appends `[<adapter> <CODE>] <what to change>` to the error's
 * message and sets a non-enumerable `entraCode` on it. Errors it does not recognise are left alone.
 *
 * @example
 * ```ts
 * connection.on("errorMessage", (error) =>
 *   reactToServerRejection(error, { engine: "postgresql", adapter: "@org/pg-entra", token, user, provider }),
 * );
 * ```
 *
 * @returns What the server's answer means (code and the full hint), or `undefined` when it is not
 *   a known authentication failure.
 */
export function reactToServerRejection(
  error: Error,
  rejection: ServerRejection,
): ServerAuthErrorDescription | undefined {
  const message = rejection.serverMessage ?? error.message;
  const described = describeServerAuthError(message, rejection.engine, rejection.serverCode);
  if (!described) return undefined;
  recordServerRejection({ engine: rejection.engine, code: described.code, adapter: rejection.adapter });
  if (shouldInvalidateToken(described.code) && rejection.provider) {
    logger.warning(
      `${ENGINE_NAME[rejection.engine]} rejected the access token (${described.code}); fetching a new one for the next connection.`,
    );
    rejection.provider.invalidate(rejection.token);
  }
  let hint = described.hint;
  // Azure SQL takes no user name: its principal is the token's.
  if (described.code === "PRINCIPAL_UNKNOWN" && rejection.token && rejection.engine !== "sqlserver") {
    const owner = deriveUsername(rejection.token);
    const variable = serviceConnectorVariable(rejection.engine, "USER");
    const setting = rejection.userSetting ?? "user";
    const appId = owner ? undefined : servicePrincipalAppId(rejection.token);
    if (owner && owner !== rejection.user) {
      hint += ` The token belongs to "${owner}"; pass \`${setting}: "${owner}"\` or set ${variable}.`;
    } else if (appId) {
      hint += ` ${servicePrincipalUserHint(appId, variable, setting)}`;
    }
  }
  error.message = `${error.message} [${rejection.adapter} ${described.code}] ${hint}`;
  Object.defineProperty(error, "entraCode", { value: described.code, enumerable: false, configurable: true });
  return { code: described.code, hint };
}

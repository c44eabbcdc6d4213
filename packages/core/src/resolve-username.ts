import { deriveUsername } from "./derive-username.js";
import { EntraAuthError } from "./entra-auth-error.js";

/** Input of {@link resolveUsername}. Defaults to every source absent. */
export interface ResolveUsernameInput {
  /** The username the user passed (`EntraOptions.username` or the driver config). Defaults to none. */
  readonly explicit?: string | undefined;
  /** The Service Connector `*_USER` variable. Defaults to none. */
  readonly envUser?: string | undefined;
  /** A token to derive the name from (see {@link deriveUsername}). Defaults to none. */
  readonly token?: string | undefined;
}

/**
 * Picks the database username: `explicit`, else `envUser`, else the token's claims. Entra group
 * names pass through untouched. Throws `EntraAuthError` code `USERNAME_UNRESOLVED` when none applies.
 *
 * @example
 * ```ts
 * const user = resolveUsername({ explicit: config.user, envUser: settings.user, token });
 * ```
 *
 * Defaults to the first non-empty of the three sources, in that order.
 */
export function resolveUsername(input: ResolveUsernameInput): string {
  if (input.explicit) return input.explicit;
  if (input.envUser) return input.envUser;
  const derived = input.token ? deriveUsername(input.token) : undefined;
  if (derived) return derived;
  throw new EntraAuthError(
    "USERNAME_UNRESOLVED",
    "No database username was given and none could be read from the token.",
    {
      hint: "Pass username (or the driver's user option), or set the Service Connector *_USER variable to the Entra principal's name.",
    },
  );
}

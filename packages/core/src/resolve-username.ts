import { deriveUsername, servicePrincipalAppId, servicePrincipalUserHint } from "./derive-username.js";
import { EntraAuthError } from "./entra-auth-error.js";
import { serviceConnectorVariable } from "./resolve-settings.js";
import type { Engine } from "./scope-for.js";

/** Input of {@link resolveUsername}: the sources, in the order they are tried. */
export interface ResolveUsernameInput {
  /** The username the user passed (`EntraOptions.username` or the driver config). */
  readonly explicit?: string | undefined;
  /** The Service Connector `*_USER` variable. */
  readonly envUser?: string | undefined;
  /** A token to derive the name from (see {@link deriveUsername}). */
  readonly token?: string | undefined;
  /** The engine, so that the error names its `*_USER` variable. */
  readonly engine?: Engine | undefined;
}

/**
 * Picks the database username: `explicit`, else `envUser`, else the token's claims (the first
 * non-empty, in that order). Entra group names pass through untouched. A service principal's
 * app-only token names nobody, so its user (the display name) must come from `explicit` or `envUser`.
 *
 * @example
 * ```ts
 * const user = resolveUsername({ explicit: config.user, envUser: settings.user, token });
 * ```
 *
 * @throws EntraAuthError `USERNAME_UNRESOLVED` when none of the three gives a name.
 */
export function resolveUsername(input: ResolveUsernameInput): string {
  if (input.explicit) return input.explicit;
  if (input.envUser) return input.envUser;
  const derived = input.token ? deriveUsername(input.token) : undefined;
  if (derived) return derived;
  const variable = input.engine
    ? serviceConnectorVariable(input.engine, "USER")
    : "the Service Connector *_USER variable";
  const appId = servicePrincipalAppId(input.token);
  throw new EntraAuthError(
    "USERNAME_UNRESOLVED",
    "No database username was given and none could be read from the token.",
    {
      hint: appId
        ? servicePrincipalUserHint(appId, variable, "user")
        : `Pass the user in the config (\`user\`, or \`username\` for ORMs), \`username\` in the options, or set ${variable} to the Entra principal's name.`,
    },
  );
}

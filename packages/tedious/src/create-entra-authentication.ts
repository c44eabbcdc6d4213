import type { TokenCredential } from "@azure/core-auth";
import { EntraAuthError } from "@org/entra-core";
import {
  createEntraTokenCredential,
  type EntraTokenCredential,
  type EntraTokenCredentialOptions,
  isEntraTokenCredential,
} from "./entra-token-credential.js";

/** The `authentication` value `withEntra` sets: tedious's `token-credential` type. */
export interface EntraAuthentication {
  /** tedious's authentication type for a `TokenCredential` it asks for a token at every login. */
  readonly type: "token-credential";
  /** The authentication options tedious reads. */
  readonly options: {
    /** The Entra credential: cached tokens from the shared provider, refreshed ahead of expiry. */
    readonly credential: EntraTokenCredential;
  };
}

/** An `authentication` value as found in a tedious or mssql config. */
interface ExistingAuthentication {
  readonly type?: unknown;
  readonly options?: { readonly credential?: unknown; readonly [key: string]: unknown } | null;
  readonly [key: string]: unknown;
}

/** Why each other tedious authentication type is refused. */
const REFUSED: Readonly<Record<string, string>> = {
  default:
    "it is SQL authentication (user name and password), not Microsoft Entra. Remove `authentication` (and any user name or password).",
  ntlm: "it is Windows (NTLM) authentication, not Microsoft Entra. Remove `authentication`.",
  "azure-active-directory-default":
    "tedious builds a new DefaultAzureCredential and fetches a new token for every login. Remove `authentication`; pass a user-assigned identity's client ID as `clientId` in the options.",
  "azure-active-directory-msi-vm":
    "tedious builds a new ManagedIdentityCredential and fetches a new token for every login. Remove `authentication`; pass a user-assigned identity's client ID as `clientId` in the options.",
  "azure-active-directory-msi-app-service":
    "tedious builds a new ManagedIdentityCredential and fetches a new token for every login. Remove `authentication`; pass a user-assigned identity's client ID as `clientId` in the options.",
  "azure-active-directory-access-token":
    "the token is a fixed string that expires (after 1 to 24 hours) and breaks every later connection. Remove `authentication`.",
  "azure-active-directory-password":
    "it puts a password in the config and builds a new credential for every login. Remove `authentication`, or pass your own credential as `credential` in the options.",
  "azure-active-directory-service-principal-secret":
    "it puts a client secret in the config and builds a new credential for every login. Remove `authentication` and pass `new ClientSecretCredential(...)` as `credential` in the options.",
};

/**
 * Builds the tedious `authentication` value for Entra: `{ type: "token-credential", options: {
 * credential } }` with a credential from {@link createEntraTokenCredential}. For adapters that
 * assemble tedious configs themselves (mssql, knex, Sequelize, TypeORM); `withEntra` uses it.
 *
 * - No existing `authentication`, or one made by this package: a new Entra credential.
 * - An existing `token-credential` with your own credential: that credential is adopted (and its
 *   tokens cached and shared) unless `options.credential` names a different one.
 * - Any other type is refused with the reason: `default` / `ntlm` are not Entra, tedious's
 *   `azure-active-directory-default` / `-msi-*` build a new credential for every login,
 *   `-access-token` is a token that expires, `-password` / `-service-principal-secret` carry secrets.
 *
 * @example
 * ```ts
 * const authentication = createEntraAuthentication(config.authentication, { clientId });
 * ```
 *
 * @param existing - The config's current `authentication`, if any.
 * @param options - Credential, client ID, scope and refresh options (the credential defaults to `DefaultAzureCredential`).
 * @returns The `authentication` value to put into the config.
 * @throws EntraAuthError `INVALID_SETTING` for another authentication type or conflicting credentials.
 */
export function createEntraAuthentication(
  existing?: unknown,
  options: EntraTokenCredentialOptions = {},
): EntraAuthentication {
  const credential = adoptCredential(existing, options.credential);
  const { target, ...rest } = options;
  // A target resolved for another credential than the one adopted from the config would warm up
  // and keep the wrong provider: the credential then resolves its own, for the adopted one.
  const resolved = credential === options.credential ? { target } : { server: rest.server ?? target?.host };
  return {
    type: "token-credential",
    options: { credential: createEntraTokenCredential({ ...rest, ...resolved, credential }) },
  };
}

function adoptCredential(existing: unknown, given: TokenCredential | undefined): TokenCredential | undefined {
  if (existing === undefined || existing === null) return given;
  if (typeof existing !== "object") {
    throw new EntraAuthError("INVALID_SETTING", "The config's `authentication` is not an object.", {
      hint: "Remove `authentication`: @org/tedious-entra sets it.",
    });
  }
  const { type, options } = existing as ExistingAuthentication;
  if (type === "token-credential") {
    const credential = options?.credential;
    if (credential === undefined || isEntraTokenCredential(credential)) return given;
    if (!isCredential(credential)) {
      throw new EntraAuthError(
        "INVALID_SETTING",
        "The config's token-credential authentication has no usable `credential`.",
        { hint: "Remove `authentication`, or pass a TokenCredential as `credential` in the options." },
      );
    }
    if (given !== undefined && given !== credential) {
      throw new EntraAuthError(
        "INVALID_SETTING",
        "The config's token-credential authentication and `options.credential` name two different credentials.",
        { hint: "Pass the credential in one place only." },
      );
    }
    return credential;
  }
  if (typeof type !== "string") {
    throw new EntraAuthError("INVALID_SETTING", "The config's `authentication` has no `type`.", {
      hint: 'Remove `authentication`: @org/tedious-entra sets it (a common slip is `authentication: { authenticationType: "..." }`, which tedious reads as SQL authentication).',
    });
  }
  const reason = REFUSED[type] ?? "it is not an authentication type tedious knows. Remove `authentication`.";
  throw new EntraAuthError(
    "INVALID_SETTING",
    `The config has authentication type "${type}", which @org/tedious-entra replaces with "token-credential":`,
    { hint: reason },
  );
}

function isCredential(value: unknown): value is TokenCredential {
  return typeof (value as { getToken?: unknown } | null)?.getToken === "function";
}

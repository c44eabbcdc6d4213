import { createHash, randomBytes } from "node:crypto";

/**
 * A federated identity credential of a service principal: the external tokens (`AZURE_FEDERATED_TOKEN_FILE`
 * of AKS workload identity, GitHub Actions OIDC, ...) the Entra token endpoint accepts as its client assertion.
 */
export interface FederatedCredentialSpec {
  /** The assertion's `iss`. Defaults to the emulator's own OIDC issuer (`emulator.oidcIssuer`). */
  readonly issuer?: string;
  /** The assertion's `sub`, matched exactly (case-sensitive, as Entra does). */
  readonly subject: string;
  /** Accepted assertion audiences. Defaults to `["api://AzureADTokenExchange"]`. */
  readonly audiences?: readonly string[];
}

/** How an emulated identity (a managed identity or a service principal) is declared. */
export interface IdentitySpec {
  /**
   * Name of the identity, and so its database role/user name: for a managed identity the last
   * segment of `xms_mirid` (no `/` or spaces); for a service principal its display name (spaces
   * allowed), which Azure's databases use as the user name (`pgaadauth_create_principal('<name>', …)`,
   * `CREATE AADUSER '<name>'`, `CREATE USER [<name>] FROM EXTERNAL PROVIDER`).
   */
  readonly name: string;
  /**
   * `system` for a system-assigned managed identity (of an App Service site), `user` for a
   * user-assigned one, `servicePrincipal` for an app registration's service principal that signs in
   * at the emulator's Entra token endpoint (client secret, certificate or federated credential).
   */
  readonly kind: "system" | "user" | "servicePrincipal";
  /** Application (client) id. Defaults to a GUID derived deterministically from kind and name. */
  readonly clientId?: string;
  /** Object (principal) id. Defaults to a GUID derived deterministically from kind and name. */
  readonly objectId?: string;
  /** Service principals: the client secret the token endpoint accepts. Defaults to a random one per start. */
  readonly clientSecret?: string;
  /**
   * Service principals: PEM certificates registered on the app; a client assertion signed by one of
   * their keys (named by `x5t#S256` or `x5t`) is accepted. The emulator adds one of its own on
   * `writeClientCertificate`. Defaults to none.
   */
  readonly certificates?: readonly string[];
  /**
   * Service principals: federated identity credentials. Defaults to one for the emulator's OIDC issuer,
   * subject `system:serviceaccount:default:<name in lower case, other characters as ->` and audience
   * `api://AzureADTokenExchange` (what `emulator.writeFederatedTokenFile()` writes).
   */
  readonly federatedCredentials?: readonly FederatedCredentialSpec[];
}

/** A resolved federated identity credential (`issuer` undefined: the emulator's own OIDC issuer). */
export interface ResolvedFederatedCredential {
  /** The accepted `iss`, or undefined for the emulator's own OIDC issuer. */
  readonly issuer?: string;
  /** The accepted `sub`. */
  readonly subject: string;
  /** The accepted audiences. */
  readonly audiences: readonly string[];
}

/** A fully resolved emulated identity, produced by {@link resolveIdentities}. */
export interface EmulatedIdentity {
  /** Name of the identity (and of its database role/user). */
  readonly name: string;
  /** `system` or `user` assigned managed identity, or `servicePrincipal`. */
  readonly kind: "system" | "user" | "servicePrincipal";
  /** Application (client) id, the `appid` claim. */
  readonly clientId: string;
  /** Object (principal) id, the `oid` and `sub` claims. */
  readonly objectId: string;
  /**
   * ARM resource id, the `xms_mirid` claim (the host site for system-assigned identities); undefined
   * for service principals, whose tokens carry no `xms_mirid`.
   */
  readonly resourceId?: string;
  /** Service principals: the client secret (`AZURE_CLIENT_SECRET`). */
  readonly clientSecret?: string;
  /** Service principals: the registered PEM certificates given in the spec. */
  readonly certificates?: readonly string[];
  /** Service principals: the federated identity credentials. */
  readonly federatedCredentials?: readonly ResolvedFederatedCredential[];
}

/** The audience Entra expects in federated assertions (workload identity federation). */
export const federatedTokenAudience = "api://AzureADTokenExchange";

/** Where emulated identities live in ARM. */
export interface IdentityLocation {
  /** Subscription id. Defaults to `00000000-0000-0000-0000-00000000e417`. */
  readonly subscriptionId?: string;
  /** Resource group name. Defaults to `entra-emulator`. */
  readonly resourceGroup?: string;
}

/** The identity used when none is configured: `{ name: "emulated-app", kind: "system" }`. */
export const defaultIdentitySpec: IdentitySpec = Object.freeze({ name: "emulated-app", kind: "system" });

/**
 * Resolves identity declarations into identities with client ids, object ids and (managed identities)
 * ARM resource ids or (service principals) a client secret and federated credentials. Missing GUIDs
 * are derived deterministically from kind and name, so they are stable across runs; a missing client
 * secret is random.
 * When `specs` is empty or missing, the result is one system-assigned identity named `emulated-app`.
 *
 * @example
 * ```ts
 * const [app] = resolveIdentities([{ name: "orders-api", kind: "user" }]);
 * app.resourceId; // /subscriptions/…/resourcegroups/entra-emulator/providers/Microsoft.ManagedIdentity/userAssignedIdentities/orders-api
 * ```
 */
export function resolveIdentities(
  specs: readonly IdentitySpec[] = [defaultIdentitySpec],
  location: IdentityLocation = {},
): readonly EmulatedIdentity[] {
  const list = specs.length > 0 ? specs : [defaultIdentitySpec];
  const subscriptionId = location.subscriptionId ?? "00000000-0000-0000-0000-00000000e417";
  const resourceGroup = location.resourceGroup ?? "entra-emulator";
  const seen = new Set<string>();
  return Object.freeze(
    list.map((spec) => {
      checkName(spec);
      if (seen.has(spec.name)) throw new TypeError(`Duplicate identity name "${spec.name}".`);
      seen.add(spec.name);
      const clientId = spec.clientId ?? deterministicGuid(`${spec.kind}:${spec.name}:client`);
      const objectId = spec.objectId ?? deterministicGuid(`${spec.kind}:${spec.name}:object`);
      if (spec.kind === "servicePrincipal") {
        return Object.freeze({
          name: spec.name,
          kind: spec.kind,
          clientId,
          objectId,
          clientSecret: spec.clientSecret ?? randomBytes(30).toString("base64url"),
          certificates: Object.freeze([...(spec.certificates ?? [])]),
          federatedCredentials: Object.freeze(
            (spec.federatedCredentials ?? [{ subject: defaultFederatedSubject(spec.name) }]).map(
              (credential) =>
                Object.freeze({
                  issuer: credential.issuer,
                  subject: credential.subject,
                  audiences: Object.freeze([...(credential.audiences ?? [federatedTokenAudience])]),
                }),
            ),
          ),
        });
      }
      const provider =
        spec.kind === "system"
          ? `Microsoft.Web/sites/${spec.name}`
          : `Microsoft.ManagedIdentity/userAssignedIdentities/${spec.name}`;
      return Object.freeze({
        name: spec.name,
        kind: spec.kind,
        clientId,
        objectId,
        resourceId: `/subscriptions/${subscriptionId}/resourcegroups/${resourceGroup}/providers/${provider}`,
      });
    }),
  );
}

/**
 * The subject of a service principal's default federated credential, as a Kubernetes service account
 * token has it: `system:serviceaccount:default:<name in lower case, other characters as ->`.
 *
 * @example
 * defaultFederatedSubject("Orders API"); // "system:serviceaccount:default:orders-api"
 */
export function defaultFederatedSubject(name: string): string {
  return `system:serviceaccount:default:${name.toLowerCase().replace(/[^a-z0-9.-]+/g, "-")}`;
}

function checkName(spec: IdentitySpec): void {
  if (spec.kind === "servicePrincipal") {
    // A display name: spaces inside are fine (the backends quote it), control characters are not.
    // biome-ignore lint/suspicious/noControlCharactersInRegex: refusing them is the point
    if (!spec.name || spec.name.trim() !== spec.name || /[\u0000-\u001f\u007f]/.test(spec.name)) {
      throw new TypeError(
        `Invalid service principal name ${JSON.stringify(spec.name)}: use a non-empty display name without leading or trailing spaces or control characters.`,
      );
    }
    return;
  }
  if (!spec.name || /[/\s]/.test(spec.name)) {
    throw new TypeError(
      `Invalid identity name ${JSON.stringify(spec.name)}: use a non-empty name without / or spaces.`,
    );
  }
}

/** A version-4-shaped GUID derived from a seed. */
function deterministicGuid(seed: string): string {
  const hex = createHash("sha256").update(seed).digest("hex");
  const variant = ((Number.parseInt(hex.slice(16, 17), 16) & 0x3) | 0x8).toString(16);
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-4${hex.slice(13, 16)}-${variant}${hex.slice(17, 20)}-${hex.slice(20, 32)}`;
}

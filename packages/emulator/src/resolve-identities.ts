import { createHash } from "node:crypto";

/** How an emulated managed identity is declared. */
export interface IdentitySpec {
  /** Name of the identity; becomes the last segment of `xms_mirid` and so the database role name. */
  readonly name: string;
  /** `system` for a system-assigned identity (of an App Service site), `user` for a user-assigned one. */
  readonly kind: "system" | "user";
  /** Application (client) id. Defaults to a GUID derived deterministically from kind and name. */
  readonly clientId?: string;
  /** Object (principal) id. Defaults to a GUID derived deterministically from kind and name. */
  readonly objectId?: string;
}

/** A fully resolved emulated managed identity, produced by {@link resolveIdentities}. */
export interface EmulatedIdentity {
  /** Name of the identity (and of its database role). */
  readonly name: string;
  /** `system` or `user` assigned. */
  readonly kind: "system" | "user";
  /** Application (client) id, the `appid` claim. */
  readonly clientId: string;
  /** Object (principal) id, the `oid` and `sub` claims. */
  readonly objectId: string;
  /** ARM resource id, the `xms_mirid` claim (the host site for system-assigned identities). */
  readonly resourceId: string;
}

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
 * Resolves identity declarations into identities with client ids, object ids and ARM resource ids.
 * Missing GUIDs are derived deterministically from kind and name, so they are stable across runs.
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
      if (!spec.name || /[/\s]/.test(spec.name)) {
        throw new TypeError(
          `Invalid identity name ${JSON.stringify(spec.name)}: use a non-empty name without / or spaces.`,
        );
      }
      if (seen.has(spec.name)) throw new TypeError(`Duplicate identity name "${spec.name}".`);
      seen.add(spec.name);
      const provider =
        spec.kind === "system"
          ? `Microsoft.Web/sites/${spec.name}`
          : `Microsoft.ManagedIdentity/userAssignedIdentities/${spec.name}`;
      return Object.freeze({
        name: spec.name,
        kind: spec.kind,
        clientId: spec.clientId ?? deterministicGuid(`${spec.kind}:${spec.name}:client`),
        objectId: spec.objectId ?? deterministicGuid(`${spec.kind}:${spec.name}:object`),
        resourceId: `/subscriptions/${subscriptionId}/resourcegroups/${resourceGroup}/providers/${provider}`,
      });
    }),
  );
}

/** A version-4-shaped GUID derived from a seed. */
function deterministicGuid(seed: string): string {
  const hex = createHash("sha256").update(seed).digest("hex");
  const variant = ((Number.parseInt(hex.slice(16, 17), 16) & 0x3) | 0x8).toString(16);
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-4${hex.slice(13, 16)}-${variant}${hex.slice(17, 20)}-${hex.slice(20, 32)}`;
}

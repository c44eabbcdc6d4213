import type { LoginPolicy, LoginRejectionReason } from "./authorize-login.js";
import type { EmulatedIdentity } from "./resolve-identities.js";

/**
 * The token checks an engine's logins make at one moment: tenant, signing keys, clock, skew and the
 * engine's injected rejections. Each engine adds its principal mapping (roles, users).
 */
export type EngineTokenPolicy = Omit<LoginPolicy, "roles" | "audiences">;

/** What `startEmulator` hands each database engine it starts. */
export interface EngineContext {
  /** Interface the engine listens on. */
  readonly host: string;
  /** PEM private key and certificate chain the engine presents. */
  readonly tls: { readonly key: string; readonly cert: string };
  /** Tenant of issued tokens. */
  readonly tenantId: string;
  /** The emulated identities; each is a database principal under its own name. */
  readonly identities: readonly EmulatedIdentity[];
  /** The token checks for a login happening now. */
  tokenPolicy(): EngineTokenPolicy;
  /** Counts one login attempt of this engine; a refusal without a reason counts as `backend`. */
  onLogin(event: { accepted: boolean; reason?: string }): void;
  /** Registers something `close()` stops; cleanups run in reverse order. */
  addCleanup(cleanup: () => Promise<void>): void;
}

/** Where a started engine listens, as the emulator handle shows it. */
export interface EngineAddress {
  readonly host: "localhost";
  readonly port: number;
  readonly database: string;
}

/**
 * How an engine's server listens: on the emulator's host with its certificate, on the engine's
 * `port` (0, an ephemeral port, when not given), refusing logins without TLS unless `requireTls` is
 * false.
 *
 * @example
 * startPgGateway({ ...engineListenOptions(context, options), backend, authorize });
 */
export function engineListenOptions(
  context: EngineContext,
  options: { readonly port?: number; readonly requireTls?: boolean },
): { host: string; port: number; tls: { readonly key: string; readonly cert: string }; requireTls: boolean } {
  return {
    host: context.host,
    port: options.port ?? 0,
    tls: context.tls,
    requireTls: options.requireTls ?? true,
  };
}

/**
 * The accounts an engine creates on its backend: one per identity, plus the extra ones (roles or
 * users standing for Entra groups), each name once.
 *
 * @example
 * engineAccounts(context, { "orders-readers": [objectId] }); // ["emulated-app", "orders-readers"]
 */
export function engineAccounts(
  context: EngineContext,
  extra: Readonly<Record<string, readonly string[]>>,
): string[] {
  return [...new Set([...context.identities.map((identity) => identity.name), ...Object.keys(extra)])];
}

/** The `faults.<engine>` handle over an engine's queue of injected rejections. */
export interface EngineFaults {
  /** Refuse the next `count` logins with `reason`. Defaults to `invalid`. */
  rejectNextLogins(count: number, reason?: LoginRejectionReason): void;
  /** Drops pending injected rejections. */
  reset(): void;
}

/**
 * A frozen {@link EngineFaults} that fills and empties `pending`, the queue the engine's
 * {@link EngineContext.tokenPolicy} consumes.
 *
 * @example
 * const pending: LoginRejectionReason[] = [];
 * rejectionFaults(pending).rejectNextLogins(2, "expired"); // pending: ["expired", "expired"]
 */
export function rejectionFaults(pending: LoginRejectionReason[]): EngineFaults {
  return Object.freeze({
    rejectNextLogins(count: number, reason: LoginRejectionReason = "invalid") {
      for (let index = 0; index < count; index += 1) pending.push(reason);
    },
    reset() {
      pending.length = 0;
    },
  });
}

import { type Emulator, startEmulator } from "@org/entra-emulator";
import { realProbes, type SelectedBackend, selectBackend } from "../select-backend.js";
import { type LocalRegistry, startLocalRegistry } from "./local-registry.js";

/** What a packed-suite file runs its consumer projects against. */
export interface PackedEnvironment {
  /** Serves the @org scope from the packed tarballs; every other package comes from npm. */
  readonly registry: LocalRegistry;
  /** Identity endpoint, PostgreSQL and MySQL gateways in front of the local servers, and the TDS endpoint. */
  readonly emulator: Emulator;
  close(): Promise<void>;
}

/**
 * Starts the local registry for the packed tarballs and an emulator in front of the integration
 * backends (PostgreSQL, MySQL) with its Azure SQL endpoint, as the consumer projects need them.
 *
 * @param packed - `inject("packedPackages")`: package name to its packed tarball.
 */
export async function startPackedEnvironment(
  packed: Readonly<Record<string, { readonly file: string }>>,
): Promise<PackedEnvironment> {
  const backends: SelectedBackend[] = [];
  const registry = await startLocalRegistry(Object.values(packed).map((p) => p.file));
  try {
    backends.push(await selectBackend("postgresql", realProbes));
    backends.push(await selectBackend("mysql", realProbes));
    const [postgres, mysql] = backends as [SelectedBackend, SelectedBackend];
    const emulator = await startEmulator({
      postgres: { backend: postgres.url },
      mysql: { backend: mysql.url },
      sqlserver: {},
    });
    return {
      registry,
      emulator,
      async close() {
        await emulator.close();
        await registry.close();
        await Promise.allSettled(backends.map((backend) => backend.stop()));
      },
    };
  } catch (error) {
    await registry.close();
    await Promise.allSettled(backends.map((backend) => backend.stop()));
    throw error;
  }
}

import { type Emulator, type EmulatorOptions, startEmulator } from "@org/entra-emulator";
import type pg from "pg";
import { realProbes, type SelectedBackend, selectPostgresBackend } from "./select-backend.js";

/** A running emulator in front of the selected PostgreSQL backend, wired into `process.env`. */
export interface Harness {
  readonly emulator: Emulator;
  readonly backend: SelectedBackend;
  /** pg config fields that reach the gateway with TLS verified against the emulator's CA. */
  pgConfig(extra?: pg.PoolConfig): pg.PoolConfig;
  close(): Promise<void>;
}

/**
 * Starts the emulator in front of the integration backend and copies its environment
 * (`IDENTITY_ENDPOINT`, `AZURE_POSTGRESQL_*`, ...) into `process.env`, so the real
 * `DefaultAzureCredential` talks to it. Call before the first token request of the process:
 * @azure/identity fixes the managed-identity endpoint at its first request.
 */
export async function startHarness(
  options: Omit<EmulatorOptions, "postgres"> & { requireTls?: boolean } = {},
) {
  const backend = await selectPostgresBackend(realProbes);
  const { requireTls, ...emulatorOptions } = options;
  const emulator = await startEmulator({
    ...emulatorOptions,
    postgres: { backend: backend.url, ...(requireTls === undefined ? {} : { requireTls }) },
  });
  Object.assign(process.env, emulator.env);
  const harness: Harness = {
    emulator,
    backend,
    pgConfig: (extra = {}) => ({ ssl: { ca: emulator.ca }, ...extra }),
    async close() {
      await emulator.close();
      await backend.stop();
    },
  };
  return harness;
}

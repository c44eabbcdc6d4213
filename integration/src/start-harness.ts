import { type Emulator, type EmulatorOptions, startEmulator } from "@org/entra-emulator";
import { type BackendEngine, realProbes, type SelectedBackend, selectBackend } from "./select-backend.js";

/**
 * The engines a harness can serve: PostgreSQL and MySQL through gateways in front of real servers,
 * Azure SQL through the emulator's own TDS endpoint (there is no SQL Server to put behind it).
 */
export type HarnessEngine = BackendEngine | "sqlserver";

/** Options for {@link startHarness}. */
export interface HarnessOptions extends Omit<EmulatorOptions, "postgres" | "mysql"> {
  /** Which gateways to start. Defaults to `["postgresql"]`. */
  readonly engines?: readonly HarnessEngine[];
  /** Whether the gateways refuse plaintext. Defaults to `true`. */
  readonly requireTls?: boolean;
}

/** A running emulator in front of the selected backends, wired into `process.env`. */
export interface Harness {
  readonly emulator: Emulator;
  readonly backends: Partial<Record<BackendEngine, SelectedBackend>>;
  /** TLS options that verify the gateways' certificates against the emulator's CA. */
  readonly tls: { readonly ca: string };
  close(): Promise<void>;
}

/**
 * Starts the emulator in front of the integration backends and copies its environment
 * (`IDENTITY_ENDPOINT`, `AZURE_POSTGRESQL_*`, `AZURE_MYSQL_*`, ...) into `process.env`, so the real
 * `DefaultAzureCredential` talks to it. Call before the first token request of the process:
 * @azure/identity fixes the managed-identity endpoint at its first request.
 */
export async function startHarness(options: HarnessOptions = {}): Promise<Harness> {
  const { engines = ["postgresql"], requireTls, ...emulatorOptions } = options;
  const backends: Partial<Record<BackendEngine, SelectedBackend>> = {};
  for (const engine of engines) {
    if (engine !== "sqlserver") backends[engine] = await selectBackend(engine, realProbes);
  }
  const gateway = (backend: SelectedBackend | undefined) =>
    backend ? { backend: backend.url, ...(requireTls === undefined ? {} : { requireTls }) } : false;
  const emulator = await startEmulator({
    ...emulatorOptions,
    postgres: gateway(backends.postgresql),
    mysql: gateway(backends.mysql),
    sqlserver: engines.includes("sqlserver") ? (requireTls === undefined ? {} : { requireTls }) : false,
  });
  Object.assign(process.env, emulator.env);
  return {
    emulator,
    backends,
    tls: { ca: emulator.ca },
    async close() {
      await emulator.close();
      await Promise.all(Object.values(backends).map((backend) => backend.stop()));
    },
  };
}

import tls from "node:tls";
import { type Emulator, type EmulatorOptions, startEmulator } from "@org/entra-emulator";
import {
  type BackendEngine,
  type BackendSource,
  realProbes,
  type SelectedBackend,
  selectBackend,
} from "./select-backend.js";

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
  /** Where the databases come from: `"container"` for the testcontainers pass. Defaults to `"any"`. */
  readonly backend?: BackendSource;
  /**
   * The credential `DefaultAzureCredential` uses. Defaults to `managed-identity` (or whatever
   * `identities` says). The other two make the default identity a service principal named
   * {@link HARNESS_SERVICE_PRINCIPAL} and trust the emulator's CA in this process.
   */
  readonly identity?: HarnessIdentity;
}

/**
 * How the app under test signs in: the managed identity (`IDENTITY_ENDPOINT`), a service principal
 * with a client secret (`DefaultAzureCredential`'s environment link against the emulator's Entra
 * authority) or workload identity (`AZURE_FEDERATED_TOKEN_FILE`, as on AKS and in GitHub Actions).
 */
export type HarnessIdentity = "managed-identity" | "service-principal" | "workload-identity";

/** The display name of the service principal the `service-principal` and `workload-identity` runs use. */
export const HARNESS_SERVICE_PRINCIPAL = "Orders API";

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
  const {
    engines = ["postgresql"],
    requireTls,
    backend: source = "any",
    identity,
    ...emulatorOptions
  } = options;
  const backends: Partial<Record<BackendEngine, SelectedBackend>> = {};
  for (const engine of engines) {
    if (engine !== "sqlserver") backends[engine] = await selectBackend(engine, realProbes, { source });
  }
  const gateway = (backend: SelectedBackend | undefined) =>
    backend ? { backend: backend.url, ...(requireTls === undefined ? {} : { requireTls }) } : false;
  const signIn: Partial<EmulatorOptions> =
    identity === "service-principal" || identity === "workload-identity"
      ? {
          identities: [{ name: HARNESS_SERVICE_PRINCIPAL, kind: "servicePrincipal" }],
          servicePrincipalCredential: identity === "service-principal" ? "secret" : "workloadIdentity",
        }
      : {};
  const emulator = await startEmulator({
    ...emulatorOptions,
    ...signIn,
    postgres: gateway(backends.postgresql),
    mysql: gateway(backends.mysql),
    sqlserver: engines.includes("sqlserver") ? (requireTls === undefined ? {} : { requireTls }) : false,
  });
  Object.assign(process.env, emulator.env);
  // The Entra authority speaks TLS with the emulator's CA. NODE_EXTRA_CA_CERTS (in the env) is read
  // only when a process starts, and this one has started: trust the CA the in-process way an app
  // would, with tls.setDefaultCACertificates (Node >= 22.19), which the https agents of
  // @azure/identity pick up (through the HTTPS_PROXY tunnel too). Database clients pass the CA.
  const restoreCertificates = signIn.identities ? trustInProcess(emulator.ca) : () => undefined;
  return {
    emulator,
    backends,
    tls: { ca: emulator.ca },
    async close() {
      restoreCertificates();
      await emulator.close();
      await Promise.all(Object.values(backends).map((backend) => backend.stop()));
    },
  };
}

/** Adds `ca` to this process's default trusted CAs; returns the function that restores them. */
function trustInProcess(ca: string): () => void {
  if (typeof tls.setDefaultCACertificates !== "function") {
    throw new Error(
      `Node ${process.version} has no tls.setDefaultCACertificates (Node >= 22.19 or 24.5): run the service-principal suites on a newer Node.`,
    );
  }
  const previous = tls.getCACertificates("default");
  tls.setDefaultCACertificates([...previous, ca]);
  return () => tls.setDefaultCACertificates(previous);
}

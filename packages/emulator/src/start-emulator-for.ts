import tls from "node:tls";
import {
  backendOfContainer,
  type ContainerEngine,
  type DatabaseSource,
  EmulatorContainerError,
  type StartedDatabaseContainer,
  stopperOf,
} from "./container-backend.js";
import type { EmulatorEnv } from "./emulator-env.js";
import type { EmulatorMysqlOptions, EmulatorOptions, EmulatorPostgresOptions } from "./emulator-options.js";
import { type Emulator, startEmulator } from "./start-emulator.js";

/** `postgres` options of {@link startEmulatorFor} for more than the database: the gateway's own options. */
export interface PostgresContainerOptions extends Omit<EmulatorPostgresOptions, "backend"> {
  /** The started container, one starting (a promise), or a `postgres://` URL of an account that can create roles. */
  readonly backend: DatabaseSource | PromiseLike<StartedDatabaseContainer>;
}

/** `mysql` options of {@link startEmulatorFor} for more than the database: the gateway's own options. */
export interface MysqlContainerOptions extends Omit<EmulatorMysqlOptions, "backend"> {
  /** The started container, one starting (a promise), or a `mysql://` URL of an account that can create users. */
  readonly backend: DatabaseSource | PromiseLike<StartedDatabaseContainer>;
}

/** Options of {@link startEmulatorFor}: the databases, plus any option of `startEmulator`. */
export interface EmulatorForOptions extends Omit<EmulatorOptions, "postgres" | "mysql"> {
  /**
   * The PostgreSQL database to put the token-validating gateway in front of: a started
   * `PostgreSqlContainer` (its user is a superuser, so the emulator creates a role per identity) or
   * the promise of one (`new PostgreSqlContainer(image).start()`), a `postgres://` URL, or
   * `{ backend, ...gateway options }`. No PostgreSQL gateway when absent.
   */
  readonly postgres?: DatabaseSource | PromiseLike<StartedDatabaseContainer> | PostgresContainerOptions;
  /**
   * The MySQL or MariaDB database to put the token-validating gateway in front of: a started
   * `MySqlContainer` or `MariaDbContainer` (the emulator logs in as `root` with its root password to
   * create a user per identity) or the promise of one, a `mysql://` URL, or
   * `{ backend, ...gateway options }`. No MySQL gateway when absent.
   */
  readonly mysql?: DatabaseSource | PromiseLike<StartedDatabaseContainer> | MysqlContainerOptions;
  /**
   * Stop the given containers in `close()` (and when the start fails), after the emulator.
   * Defaults to true; pass false when they outlive the emulator.
   */
  readonly stopContainers?: boolean;
  /**
   * Add the emulator's CA to this process's default trusted CAs until `close()`, so clients in this
   * process verify the gateways with `ssl: true` (pg) or `ssl: { verifyIdentity: true }` (mysql2) and
   * no `ca` option, as a child process does with `env.NODE_EXTRA_CA_CERTS`. Needs
   * `tls.setDefaultCACertificates` (Node.js 22.19 / 24.5 or later). Defaults to true.
   */
  readonly trustCa?: boolean;
}

/** The emulator in front of the given databases, from {@link startEmulatorFor}. */
export interface EmulatorForContainers extends AsyncDisposable {
  /** The running emulator: token minting, faults, counters, `ca`, the gateways' addresses. */
  readonly emulator: Emulator;
  /**
   * The variables that make `DefaultAzureCredential` use the emulator and `withEntra()` connect to
   * its gateways (`IDENTITY_ENDPOINT`, `AZURE_POSTGRESQL_*`, `AZURE_MYSQL_*`, `NODE_EXTRA_CA_CERTS`,
   * ...): `Object.assign(process.env, env)` before the first token request of the process, or pass
   * them to a child process.
   */
  readonly env: EmulatorEnv;
  /**
   * Closes the emulator, removes its CA from the process's trusted CAs, then stops the containers
   * it was given (unless `stopContainers` is false). Idempotent; `Symbol.asyncDispose` does the same.
   * Rejects with an `AggregateError` naming the engines whose container failed to stop.
   */
  close(): Promise<void>;
}

/**
 * Starts the emulator in front of databases your own testcontainers started, for integration tests
 * of passwordless code: the real `DefaultAzureCredential` gets tokens from the emulator's identity
 * endpoint and your `withEntra()` pools log in through its TLS gateways, which validate each token
 * and then log in to the containers. Containers are duck-typed (anything with `getConnectionUri()`),
 * so this package does not depend on testcontainers; pass them started, or pass the promises of
 * `start()` to start them in parallel. Throws {@link EmulatorContainerError} for a container that is
 * not started or not a container, and a container's own start error; in every failure the given
 * containers that did start are stopped (unless `stopContainers` is false).
 *
 * @example
 * ```ts
 * import { PostgreSqlContainer } from "@testcontainers/postgresql";
 * import { MariaDbContainer } from "@testcontainers/mariadb";
 * import { startEmulatorFor } from "@org/entra-emulator/testcontainers";
 *
 * await using entra = await startEmulatorFor({
 *   postgres: new PostgreSqlContainer("postgres:17-alpine").start(),
 *   mysql: new MariaDbContainer("mariadb:11").start(),
 * });
 * Object.assign(process.env, entra.env);
 * const pool = new pg.Pool(withEntra()); // your code, unchanged
 * ```
 */
export async function startEmulatorFor(options: EmulatorForOptions): Promise<EmulatorForContainers> {
  const { postgres, mysql, stopContainers = true, trustCa = true, ...emulatorOptions } = options;
  const given: Array<{ engine: ContainerEngine; value: unknown }> = [];
  if (postgres !== undefined) given.push({ engine: "postgres", value: postgres });
  if (mysql !== undefined) given.push({ engine: "mysql", value: mysql });

  // Containers still starting (promises) are awaited together, so none is left running unseen.
  const settled = await Promise.allSettled(
    given.map(({ value }) => Promise.resolve(isEngineOptions(value) ? value.backend : value)),
  );
  const sources = new Map<ContainerEngine, unknown>();
  const stoppers: Array<{ engine: ContainerEngine; stop: () => Promise<unknown> }> = [];
  given.forEach(({ engine }, index) => {
    const result = settled[index];
    if (result?.status !== "fulfilled") return;
    sources.set(engine, result.value);
    const stop = stopContainers ? stopperOf(result.value) : undefined;
    if (stop) stoppers.push({ engine, stop });
  });
  const stopAll = async (): Promise<void> => {
    const results = await Promise.allSettled(stoppers.map(({ stop }) => stop()));
    const failed = stoppers.filter((_, index) => results[index]?.status === "rejected");
    if (failed.length > 0) {
      throw new AggregateError(
        results.flatMap((result) => (result.status === "rejected" ? [result.reason] : [])),
        `Stopping the ${failed.map(({ engine }) => engine).join(" and ")} container failed (see errors).`,
      );
    }
  };

  let emulator: Emulator | undefined;
  let untrust: (() => void) | undefined;
  try {
    const failedStart = settled.find((result) => result.status === "rejected");
    if (failedStart) throw failedStart.reason;
    if (given.length === 0 && !emulatorOptions.sqlserver) {
      throw new EmulatorContainerError(
        "NO_DATABASE",
        "startEmulatorFor needs a database: pass postgres: <started PostgreSqlContainer> and/or " +
          "mysql: <started MySqlContainer or MariaDbContainer> (or a URL).",
      );
    }
    const gateway = <T extends object>(engine: ContainerEngine, value: unknown): false | T => {
      if (value === undefined) return false;
      const backend = backendOfContainer(engine, sources.get(engine));
      return { ...(isEngineOptions(value) ? value : {}), backend } as unknown as T;
    };
    const postgresOptions = gateway<EmulatorPostgresOptions>("postgres", postgres);
    const mysqlOptions = gateway<EmulatorMysqlOptions>("mysql", mysql);
    const setDefaultCACertificates = trustCa ? defaultCaSetter() : undefined;
    emulator = await startEmulator({
      ...emulatorOptions,
      sqlserver: emulatorOptions.sqlserver ?? false,
      postgres: postgresOptions,
      mysql: mysqlOptions,
    });
    if (setDefaultCACertificates) untrust = trustInProcess(emulator.ca, setDefaultCACertificates);
  } catch (error) {
    await emulator?.close();
    await stopAll().catch(() => undefined);
    throw error;
  }

  const running = emulator;
  let closing: Promise<void> | undefined;
  const close = () => {
    closing ??= (async () => {
      try {
        await running.close();
      } finally {
        untrust?.();
        await stopAll();
      }
    })();
    return closing;
  };
  return Object.freeze({ emulator: running, env: running.env, close, [Symbol.asyncDispose]: close });
}

function isEngineOptions(value: unknown): value is { readonly backend: unknown } {
  return (
    typeof value === "object" &&
    value !== null &&
    "backend" in value &&
    typeof (value as { getConnectionUri?: unknown }).getConnectionUri !== "function"
  );
}

type CaSetter = (certificates: readonly string[]) => void;

function defaultCaSetter(): CaSetter {
  const { setDefaultCACertificates, getCACertificates } = tls as Partial<typeof tls>;
  if (typeof setDefaultCACertificates !== "function" || typeof getCACertificates !== "function") {
    throw new EmulatorContainerError(
      "CA_TRUST_UNAVAILABLE",
      `trustCa needs tls.setDefaultCACertificates, which Node.js ${process.versions.node} lacks ` +
        "(use Node.js 22.19 / 24.5 or later), or pass trustCa: false and give your clients the CA " +
        "(ssl: { ca: entra.emulator.ca }) or start Node with NODE_EXTRA_CA_CERTS=entra.env.NODE_EXTRA_CA_CERTS.",
    );
  }
  return setDefaultCACertificates;
}

/**
 * Adds the certificates of `caPem` to the process's default CAs; the returned function removes the
 * ones that were not trusted before.
 */
function trustInProcess(caPem: string, setDefaultCACertificates: CaSetter): () => void {
  const added = pemBlocks(caPem);
  const before = new Set(tls.getCACertificates("default").map(pemBody));
  const mine = new Set(added.map(pemBody).filter((body) => !before.has(body)));
  setDefaultCACertificates([...tls.getCACertificates("default"), ...added]);
  return () => {
    setDefaultCACertificates(tls.getCACertificates("default").filter((pem) => !mine.has(pemBody(pem))));
  };
}

function pemBlocks(pem: string): string[] {
  return pem.match(/-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g) ?? [];
}

/** The base64 of a PEM certificate without armour or line breaks, to compare certificates. */
function pemBody(pem: string): string {
  return pem.replace(/-----(BEGIN|END) CERTIFICATE-----|\s+/g, "");
}

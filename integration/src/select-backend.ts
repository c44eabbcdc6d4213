import net from "node:net";

/** The database engines the integration suite runs against. */
export type BackendEngine = "postgresql" | "mysql";

/** Where one engine's backend comes from for this run. */
export interface SelectedBackend {
  readonly kind: "url" | "local" | "container";
  /** A URL for an account that can create roles/users (postgres:// or mysql://). */
  readonly url: string;
  /** Stops what was started for this run (the container). */
  stop(): Promise<void>;
}

/** What `selectBackend` needs from the outside; injected so each path is testable. */
export interface BackendProbes {
  readonly env: Readonly<Record<string, string | undefined>>;
  /** True when a TCP connection to host:port succeeds. */
  tcpOpen(host: string, port: number): Promise<boolean>;
  /** Resolves true when a Docker engine answers; may hang, so it is raced against `dockerTimeoutInMs`. */
  dockerAvailable(): Promise<boolean>;
  /** Starts a container for the engine and returns its URL. */
  startContainer(engine: BackendEngine): Promise<{ url: string; stop(): Promise<void> }>;
  readonly dockerTimeoutInMs?: number;
}

const ENGINES = {
  postgresql: {
    variable: "ENTRA_IT_POSTGRES_URL",
    label: "PostgreSQL",
    port: 5432,
    localUrl: "postgres://postgres@127.0.0.1:5432/test",
    example: "postgres://user:pass@host:5432/db",
  },
  mysql: {
    variable: "ENTRA_IT_MYSQL_URL",
    label: "MySQL/MariaDB",
    port: 3306,
    localUrl: "mysql://root@127.0.0.1:3306/test",
    example: "mysql://root:pass@host:3306/test",
  },
} as const;

/**
 * Picks one engine's integration backend: the explicit URL variable (`ENTRA_IT_POSTGRES_URL` /
 * `ENTRA_IT_MYSQL_URL`) > the local service on 127.0.0.1 > a testcontainers container when a Docker
 * engine answers in time. Nothing is skipped silently: with none of them it throws a message that
 * says how to get one.
 */
export async function selectBackend(engine: BackendEngine, probes: BackendProbes): Promise<SelectedBackend> {
  const spec = ENGINES[engine];
  const explicit = probes.env[spec.variable];
  if (explicit) return { kind: "url", url: explicit, stop: async () => {} };
  if (await probes.tcpOpen("127.0.0.1", spec.port))
    return { kind: "local", url: spec.localUrl, stop: async () => {} };
  if (await raceTimeout(probes.dockerAvailable(), probes.dockerTimeoutInMs ?? 3_000)) {
    const container = await probes.startContainer(engine);
    return { kind: "container", url: container.url, stop: () => container.stop() };
  }
  throw new Error(
    `No ${spec.label} backend for the integration tests: ${spec.variable} is not set, nothing listens on ` +
      `127.0.0.1:${spec.port} and no Docker engine answered. Start one: \`bash scripts/ensure-services.sh\` ` +
      `(local services), or \`export ${spec.variable}=${spec.example}\`, or start Docker.`,
  );
}

async function raceTimeout(probe: Promise<boolean>, timeoutInMs: number): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<boolean>((resolve) => {
    timer = setTimeout(() => resolve(false), timeoutInMs);
    timer.unref();
  });
  try {
    return await Promise.race([probe.catch(() => false), timeout]);
  } finally {
    clearTimeout(timer);
  }
}

/** The real probes: TCP connect, testcontainers' runtime detection, PostgreSQL 16 / MySQL 8 containers. */
export const realProbes: BackendProbes = {
  env: process.env,
  tcpOpen: (host, port) =>
    new Promise((resolve) => {
      const socket = net.connect({ host, port });
      socket.setTimeout(1_000);
      const done = (open: boolean) => {
        socket.destroy();
        resolve(open);
      };
      socket.once("connect", () => done(true));
      socket.once("error", () => done(false));
      socket.once("timeout", () => done(false));
    }),
  dockerAvailable: async () => {
    const { getContainerRuntimeClient } = await import("testcontainers");
    await getContainerRuntimeClient();
    return true;
  },
  startContainer: async (engine) => {
    if (engine === "postgresql") {
      const { PostgreSqlContainer } = await import("@testcontainers/postgresql");
      const container = await new PostgreSqlContainer("postgres:16-alpine")
        .withCommand(["-c", "max_connections=300"])
        .start();
      return { url: container.getConnectionUri(), stop: async () => void (await container.stop()) };
    }
    const { MySqlContainer } = await import("@testcontainers/mysql");
    const container = await new MySqlContainer("mysql:8.4").withCommand(["--max-connections=400"]).start();
    const url = `mysql://root:${encodeURIComponent(container.getRootPassword())}@${container.getHost()}:${container.getPort()}/${container.getDatabase()}`;
    return { url, stop: async () => void (await container.stop()) };
  },
};

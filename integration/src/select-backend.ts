import net from "node:net";

/** Where the integration suite's PostgreSQL comes from. */
export interface SelectedBackend {
  readonly kind: "url" | "local" | "container";
  /** A postgres:// URL for an account that can create roles. */
  readonly url: string;
  /** Stops what was started for this run (the container). */
  stop(): Promise<void>;
}

/** What `selectPostgresBackend` needs from the outside; injected so each path is testable. */
export interface BackendProbes {
  readonly env: Readonly<Record<string, string | undefined>>;
  /** True when a TCP connection to host:port succeeds. */
  tcpOpen(host: string, port: number): Promise<boolean>;
  /** Resolves true when a Docker engine answers; may hang, so it is raced against `dockerTimeoutInMs`. */
  dockerAvailable(): Promise<boolean>;
  /** Starts a PostgreSQL container and returns its URL. */
  startContainer(): Promise<{ url: string; stop(): Promise<void> }>;
  readonly dockerTimeoutInMs?: number;
}

const LOCAL = { host: "127.0.0.1", port: 5432, url: "postgres://postgres@127.0.0.1:5432/test" };

/**
 * Picks the integration backend: `ENTRA_IT_POSTGRES_URL` > the local service on 127.0.0.1:5432 >
 * a testcontainers PostgreSQL when a Docker engine answers in time. Nothing is skipped silently:
 * with none of them it throws a message that says how to get one.
 */
export async function selectPostgresBackend(probes: BackendProbes): Promise<SelectedBackend> {
  const explicit = probes.env.ENTRA_IT_POSTGRES_URL;
  if (explicit) return { kind: "url", url: explicit, stop: async () => {} };
  if (await probes.tcpOpen(LOCAL.host, LOCAL.port))
    return { kind: "local", url: LOCAL.url, stop: async () => {} };
  if (await raceTimeout(probes.dockerAvailable(), probes.dockerTimeoutInMs ?? 3_000)) {
    const container = await probes.startContainer();
    return { kind: "container", url: container.url, stop: () => container.stop() };
  }
  throw new Error(
    "No PostgreSQL backend for the integration tests: ENTRA_IT_POSTGRES_URL is not set, nothing listens on " +
      "127.0.0.1:5432 and no Docker engine answered. Start one: `bash scripts/ensure-services.sh` (local " +
      "PostgreSQL), or `export ENTRA_IT_POSTGRES_URL=postgres://user:pass@host:5432/db`, or start Docker.",
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

/** The real probes: TCP connect, testcontainers' runtime detection, a `postgres:16` container. */
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
  startContainer: async () => {
    const { PostgreSqlContainer } = await import("@testcontainers/postgresql");
    const container = await new PostgreSqlContainer("postgres:16-alpine")
      .withCommand(["-c", "max_connections=300"])
      .start();
    return { url: container.getConnectionUri(), stop: async () => void (await container.stop()) };
  },
};

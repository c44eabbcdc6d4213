import net from "node:net";

/** The database engines the integration suite runs against. */
export type BackendEngine = "postgresql" | "mysql";

/** Where one engine's backend comes from for this run. */
export interface SelectedBackend {
  readonly kind: "url" | "local" | "container";
  /** A URL for an account that can create roles/users (postgres:// or mysql://). */
  readonly url: string;
  /** The container image, for a container. */
  readonly image?: string;
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
  startContainer(engine: BackendEngine): Promise<{ url: string; image?: string; stop(): Promise<void> }>;
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
 * Where a backend should come from: `"any"` (the order below) or `"container"` (the testcontainers pass:
 * a container whenever a Docker engine answers; without one, the local services with a warning, or an
 * error when `ENTRA_IT_CONTAINERS=required`).
 */
export type BackendSource = "any" | "container";

/**
 * The images of the testcontainers pass: `ENTRA_IT_POSTGRES_IMAGE` / `ENTRA_IT_MARIADB_IMAGE` (the
 * integration project's global setup sets them to the local images of scripts/build-test-images.sh when
 * those exist), else the official images from Docker Hub.
 */
export function containerImages(
  env: Readonly<Record<string, string | undefined>>,
): Record<BackendEngine, string> {
  return {
    postgresql: env.ENTRA_IT_POSTGRES_IMAGE || "postgres:17-alpine",
    mysql: env.ENTRA_IT_MARIADB_IMAGE || "mariadb:11",
  };
}

/**
 * Picks one engine's integration backend: the explicit URL variable (`ENTRA_IT_POSTGRES_URL` /
 * `ENTRA_IT_MYSQL_URL`) > the local service on 127.0.0.1 > a testcontainers container when a Docker
 * engine answers in time. Nothing is skipped silently: with none of them it throws a message that
 * says how to get one.
 */
export async function selectBackend(
  engine: BackendEngine,
  probes: BackendProbes,
  options: { readonly source?: BackendSource } = {},
): Promise<SelectedBackend> {
  const spec = ENGINES[engine];
  if (options.source === "container") {
    const mode = probes.env.ENTRA_IT_CONTAINERS ?? "auto";
    if (mode !== "off" && (await raceTimeout(probes.dockerAvailable(), probes.dockerTimeoutInMs ?? 3_000))) {
      const container = await probes.startContainer(engine);
      return { kind: "container", ...container, stop: () => container.stop() };
    }
    if (mode === "required")
      throw new Error(
        `No Docker engine answered for the ${spec.label} testcontainers pass, and ENTRA_IT_CONTAINERS=required. ` +
          "Start one: `bash scripts/ensure-docker.sh` (as root on Debian it installs and starts docker.io and " +
          "builds the local images), or unset ENTRA_IT_CONTAINERS to fall back to the local services.",
      );
    console.warn(
      `The ${spec.label} testcontainers pass found no Docker engine${mode === "off" ? " (ENTRA_IT_CONTAINERS=off)" : ""}: ` +
        "it runs against the local services instead (`bash scripts/ensure-docker.sh` starts an engine).",
    );
  }
  const explicit = probes.env[spec.variable];
  if (explicit) return { kind: "url", url: explicit, stop: async () => {} };
  if (await probes.tcpOpen("127.0.0.1", spec.port))
    return { kind: "local", url: spec.localUrl, stop: async () => {} };
  if (await raceTimeout(probes.dockerAvailable(), probes.dockerTimeoutInMs ?? 3_000)) {
    const container = await probes.startContainer(engine);
    return { kind: "container", ...container, stop: () => container.stop() };
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

/** The real probes: TCP connect, testcontainers' runtime detection, PostgreSQL 17 / MariaDB 11 containers. */
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
    const image = containerImages(process.env)[engine];
    if (engine === "postgresql") {
      const { PostgreSqlContainer } = await import("@testcontainers/postgresql");
      // 300 connections: the conformance suite's cold burst opens 200 at once.
      const container = await new PostgreSqlContainer(image)
        .withCommand(["-c", "max_connections=300"])
        .start();
      return { url: container.getConnectionUri(), image, stop: async () => void (await container.stop()) };
    }
    const { MariaDbContainer } = await import("@testcontainers/mariadb");
    const container = await new MariaDbContainer(image).withCommand(["--max-connections=400"]).start();
    // The emulator creates users for its identities: it needs root, not the container's test user.
    const url = `mysql://root:${encodeURIComponent(container.getRootPassword())}@${container.getHost()}:${container.getPort()}/${container.getDatabase()}`;
    return { url, image, stop: async () => void (await container.stop()) };
  },
};

/** The server's own version string (`SELECT version()`), read with the backend's admin URL. */
export async function serverVersion(url: string): Promise<string> {
  if (url.startsWith("mysql:")) {
    const mysql = await import("mysql2/promise");
    const connection = await mysql.createConnection(url);
    try {
      const [rows] = await connection.query<import("mysql2").RowDataPacket[]>("SELECT version() AS version");
      return String(rows[0]?.version);
    } finally {
      await connection.end();
    }
  }
  const { default: pg } = await import("pg");
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    const { rows } = await client.query<{ version: string }>("SELECT version() AS version");
    return String(rows[0]?.version).replace(/ on .*$/, "");
  } finally {
    await client.end();
  }
}

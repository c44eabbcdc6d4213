import net from "node:net";

/** A database server the emulator's gateway sits in front of (and that benchmarks 1 and 6 also reach directly). */
export interface Backend {
  /** URL of an account that can create roles/users (postgres:// or mysql://). */
  readonly url: string;
  readonly source: "env" | "local";
}

const BACKENDS = {
  postgresql: {
    variables: ["ENTRA_BENCH_POSTGRES_URL", "ENTRA_IT_POSTGRES_URL"],
    localUrl: "postgres://postgres@127.0.0.1:5432/test",
    port: 5432,
  },
  mysql: {
    variables: ["ENTRA_BENCH_MYSQL_URL", "ENTRA_IT_MYSQL_URL"],
    localUrl: "mysql://root@127.0.0.1:3306/test",
    port: 3306,
  },
} as const;

/**
 * Picks a backend the way the integration harness does (minus containers): an explicit URL
 * (`ENTRA_BENCH_POSTGRES_URL` / `ENTRA_BENCH_MYSQL_URL`, else the `ENTRA_IT_*` ones) > the local
 * service on 127.0.0.1. Returns undefined when there is none.
 */
export async function findBackend(engine: keyof typeof BACKENDS): Promise<Backend | undefined> {
  const spec = BACKENDS[engine];
  for (const variable of spec.variables) {
    const url = process.env[variable];
    if (url) return { url, source: "env" };
  }
  return (await tcpOpen("127.0.0.1", spec.port)) ? { url: spec.localUrl, source: "local" } : undefined;
}

function tcpOpen(host: string, port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = net.connect({ host, port });
    socket.setTimeout(1_000);
    const done = (open: boolean) => {
      socket.destroy();
      resolve(open);
    };
    socket.once("connect", () => done(true));
    socket.once("error", () => done(false));
    socket.once("timeout", () => done(false));
  });
}

import { authorizeLogin } from "../authorize-login.js";
import { parseBackendUrl } from "../backend-url.js";
import {
  type EngineAddress,
  type EngineContext,
  engineAccounts,
  engineListenOptions,
} from "../emulator-engine.js";
import type { EmulatorPostgresOptions } from "../emulator-options.js";
import { startPgGateway } from "./pg-gateway.js";

/**
 * Starts the PostgreSQL part of the emulator: the backend (an embedded PGlite, or a real server
 * given by URL) with a LOGIN role per identity and extra role, and the token-validating gateway in
 * front of it, mapping principals to roles with {@link authorizeLogin}.
 *
 * @example
 * const postgres = await startPostgresEngine({ backend: "pglite" }, context); // { host: "localhost", port, database: "postgres" }
 */
export async function startPostgresEngine(
  options: EmulatorPostgresOptions,
  context: EngineContext,
): Promise<EngineAddress> {
  const roles = options.roles ?? {};
  const backend = await startBackend(options, engineAccounts(context, roles), context);
  const gateway = await startPgGateway({
    ...engineListenOptions(context, options),
    backend: backend.target,
    authorize: (request) => authorizeLogin(request, { ...context.tokenPolicy(), roles }),
    onLogin: context.onLogin,
  });
  context.addCleanup(() => gateway.close());
  return Object.freeze({ host: "localhost", port: gateway.port, database: backend.database });
}

interface StartedBackend {
  readonly target: { host: string; port: number; password?: string; database?: string };
  readonly database: string;
}

async function startBackend(
  options: EmulatorPostgresOptions,
  roleNames: readonly string[],
  context: EngineContext,
): Promise<StartedBackend> {
  if (options.backend === "pglite") {
    const [{ PGlite }, { PGLiteSocketServer }] = await loadPglite();
    const db = await PGlite.create();
    context.addCleanup(() => db.close());
    for (const role of roleNames) {
      const exists = await db.query("SELECT 1 FROM pg_roles WHERE rolname = $1", [role]);
      if (exists.rows.length === 0) await db.exec(`CREATE ROLE ${quoteIdentifier(role)} LOGIN`);
      await db.exec(`GRANT ALL ON SCHEMA public TO ${quoteIdentifier(role)}`);
    }
    const server = new PGLiteSocketServer({ db, host: "127.0.0.1", port: 0, maxConnections: 64 });
    await server.start();
    context.addCleanup(() => server.stop());
    const port = Number(server.getServerConn().split(":").pop());
    // PGlite has a single database; the gateway logs in to it whatever the client asked for.
    const database = options.database ?? "postgres";
    return { target: { host: "127.0.0.1", port, database: "postgres" }, database };
  }

  const url = parseBackendUrl(options.backend, {
    protocols: ["postgres:", "postgresql:"],
    defaultPort: 5432,
    invalid: 'postgres.backend must be "pglite" or a postgres:// URL.',
  });
  const database = options.database ?? (url.database || "postgres");
  if (options.createRoles ?? true) await createRoles(options.backend, roleNames, url.password);
  return { target: { host: url.host, port: url.port, password: url.password }, database };
}

async function createRoles(connectionString: string, roleNames: readonly string[], password?: string) {
  const { default: pg } = await import("pg");
  const client = new pg.Client({ connectionString });
  await client.connect();
  try {
    for (const role of roleNames) {
      const exists = await client.query("SELECT 1 FROM pg_roles WHERE rolname = $1", [role]);
      if (exists.rowCount === 0) {
        const withPassword = password === undefined ? "" : ` PASSWORD ${quoteLiteral(password)}`;
        try {
          await client.query(`CREATE ROLE ${quoteIdentifier(role)} LOGIN${withPassword}`);
        } catch (error) {
          // Another emulator created it between our check and our CREATE: that is fine.
          if ((error as { code?: string }).code !== "42710") throw error;
        }
      }
      await client.query(`GRANT ALL ON SCHEMA public TO ${quoteIdentifier(role)}`).catch(() => undefined);
    }
  } finally {
    await client.end().catch(() => undefined);
  }
}

function quoteIdentifier(name: string): string {
  return `"${name.replaceAll('"', '""')}"`;
}

function quoteLiteral(value: string): string {
  return `'${value.replaceAll("'", "''")}'`;
}

/**
 * PGlite is an optional peer: only the PGlite backend needs it, so MySQL-only and SQL-only users
 * of the emulator do not download it. A missing install says what to add.
 */
async function loadPglite() {
  try {
    return await Promise.all([import("@electric-sql/pglite"), import("@electric-sql/pglite-socket")]);
  } catch (error) {
    const code = (error as { code?: string }).code;
    if (code !== "ERR_MODULE_NOT_FOUND" && code !== "MODULE_NOT_FOUND") throw error;
    throw new Error(
      "The PGlite backend needs @electric-sql/pglite and @electric-sql/pglite-socket: " +
        "npm i -D @electric-sql/pglite@0.5.14 @electric-sql/pglite-socket@0.2.17 " +
        "(or give a real server with --postgres-url / postgres.backend).",
      { cause: error },
    );
  }
}

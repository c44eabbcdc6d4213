import { type EmulatorForContainers, startEmulatorFor } from "@org/entra-emulator/testcontainers";
import { MariaDbContainer } from "@testcontainers/mariadb";
import { PostgreSqlContainer } from "@testcontainers/postgresql";
import { getContainerRuntimeClient } from "testcontainers";
import { test as base, describe, expect } from "vitest";
import {
  createMysqlTodoRepository,
  createPostgresTodoRepository,
  type TodoRepository,
} from "../src/todo-repository.js";

const POSTGRES_IMAGE = process.env.ENTRA_IT_POSTGRES_IMAGE ?? "postgres:17-alpine";
const MARIADB_IMAGE = process.env.ENTRA_IT_MARIADB_IMAGE ?? "mariadb:11";

/**
 * One emulator for the whole file, in front of a PostgreSQL and a MariaDB container (started in
 * parallel: `startEmulatorFor` takes the promises). `await using` stops all three when the file is
 * done, and a failed start stops the container that did start.
 * The variables go into `process.env` before the first token request of the process:
 * `@azure/identity` fixes the managed-identity endpoint at its first request.
 */
const test = base.extend<{ entra: EmulatorForContainers }>({
  entra: [
    // biome-ignore lint/correctness/noEmptyPattern: vitest reads a fixture's dependencies from this pattern.
    async ({}, use) => {
      await using entra = await startEmulatorFor({
        postgres: new PostgreSqlContainer(POSTGRES_IMAGE).start(),
        mysql: new MariaDbContainer(MARIADB_IMAGE).start(),
      });
      Object.assign(process.env, entra.env);
      await use(entra);
    },
    { scope: "file" },
  ],
});

const runtime = await detectContainerRuntime();

describe.skipIf(!runtime.ok)(
  "passwordless data access against testcontainers databases",
  { timeout: 180_000 },
  () => {
    const engines = [
      { engine: "PostgreSQL", create: createPostgresTodoRepository, user: "emulated-app" },
      { engine: "MariaDB", create: createMysqlTodoRepository, user: "emulated-app@%" },
    ] as const;

    test.for(engines)(
      "the to-do repository works on $engine, signed in with Entra tokens",
      async ({ create, user }, { entra }) => {
        entra.emulator.resetCounters();
        const todos: TodoRepository = create(); // after the fixture: withEntra() reads the variables now
        try {
          await todos.migrate();
          const first = await todos.add("Give the app a managed identity");
          await todos.add("Delete the database password");
          await todos.complete(first.id);

          expect((await todos.list()).slice(-2)).toMatchObject([
            { title: "Give the app a managed identity", done: true },
            { title: "Delete the database password", done: false },
          ]);
          expect(await todos.currentUser()).toBe(user); // the managed identity's name, from the token
        } finally {
          await todos.close();
        }
        const { loginsAccepted, loginsRejected } = entra.emulator.counters;
        expect(loginsAccepted).toBeGreaterThan(0); // every connection presented a token the emulator validated
        expect(loginsRejected).toBe(0);
      },
    );

    test("an expired token is refused the way Azure refuses it", async ({ entra }) => {
      entra.emulator.faults.postgres.rejectNextLogins(1, "expired");
      const todos = createPostgresTodoRepository();
      try {
        await expect(todos.list()).rejects.toThrow(/access token has expired/);
      } finally {
        await todos.close();
      }
    });
  },
);

if (!runtime.ok) {
  test.skip(`skipped: no container runtime (${runtime.reason}); start Docker to run these tests`, () => {});
}

/**
 * Asks testcontainers for a container runtime (Docker, Podman, ...), at most 5 s: a socket that
 * never answers would otherwise hang. Without one the tests above are skipped with the reason, unless
 * `ENTRA_IT_CONTAINERS=required` (CI), where a missing runtime fails the run.
 */
async function detectContainerRuntime(): Promise<{ ok: true } | { ok: false; reason: string }> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error("no answer within 5 s")), 5_000).unref();
  });
  try {
    await Promise.race([getContainerRuntimeClient(), timeout]);
    return { ok: true };
  } catch (error) {
    const reason = error instanceof Error ? error.message : String(error);
    if (process.env.ENTRA_IT_CONTAINERS === "required") {
      throw new Error(`ENTRA_IT_CONTAINERS=required, but no container runtime answered: ${reason}`);
    }
    console.warn(`Skipping the testcontainers tests: no container runtime answered (${reason}).`);
    return { ok: false, reason };
  } finally {
    clearTimeout(timer);
  }
}

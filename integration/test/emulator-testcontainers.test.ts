import net from "node:net";
import { startEmulatorFor } from "@org/entra-emulator/testcontainers";
import { PostgreSqlContainer } from "@testcontainers/postgresql";
import { getContainerRuntimeClient } from "testcontainers";
import { describe, expect, it } from "vitest";

// What `await using` of startEmulatorFor promises, on a real container. The user-facing example
// (examples/testcontainers) covers the data path; this covers the teardown.
const POSTGRES_IMAGE = process.env.ENTRA_IT_POSTGRES_IMAGE ?? "postgres:17-alpine";
const runtime = await detectContainerRuntime();

describe.skipIf(!runtime)("startEmulatorFor teardown", () => {
  it("`await using` closes the emulator and stops the container; stopContainers: false keeps it", async () => {
    const client = await getContainerRuntimeClient();
    const postgres = await new PostgreSqlContainer(POSTGRES_IMAGE).start();
    const state = async () =>
      client.container
        .inspect(client.container.getById(postgres.getId()))
        .then((info) => (info.State.Running ? "running" : "stopped"))
        .catch((error: { statusCode?: number }) =>
          error.statusCode === 404 ? "removed" : Promise.reject(error),
        );
    try {
      let gatewayPort = 0;
      {
        await using entra = await startEmulatorFor({ postgres, stopContainers: false, trustCa: false });
        gatewayPort = entra.emulator.postgres?.port ?? 0;
        expect(await accepts(gatewayPort)).toBe(true);
      }
      expect(await accepts(gatewayPort)).toBe(false);
      expect(await state()).toBe("running");

      {
        await using entra = await startEmulatorFor({ postgres, trustCa: false });
        expect(entra.env.AZURE_POSTGRESQL_DATABASE).toBe("test");
      }
      expect(await state()).toBe("removed");
    } finally {
      await postgres.stop();
    }
  });
});

function accepts(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = net.connect({ host: "127.0.0.1", port });
    const done = (open: boolean) => {
      socket.destroy();
      resolve(open);
    };
    socket.once("connect", () => done(true));
    socket.once("error", () => done(false));
  });
}

/** True when testcontainers finds a container runtime within 5 s; false (or a failure in CI) otherwise. */
async function detectContainerRuntime(): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error("no answer within 5 s")), 5_000).unref();
  });
  try {
    await Promise.race([getContainerRuntimeClient(), timeout]);
    return true;
  } catch (error) {
    const reason = error instanceof Error ? error.message : String(error);
    if (process.env.ENTRA_IT_CONTAINERS === "required") {
      throw new Error(`ENTRA_IT_CONTAINERS=required, but no container runtime answered: ${reason}`);
    }
    console.warn(`Skipping startEmulatorFor teardown: no container runtime answered (${reason}).`);
    return false;
  } finally {
    clearTimeout(timer);
  }
}

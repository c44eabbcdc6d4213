import tls from "node:tls";
import pg from "pg";
import { describe, expect, it } from "vitest";
import { backendOfContainer, EmulatorContainerError } from "./container-backend.js";
import { startEmulatorFor } from "./start-emulator-for.js";

/** The local PostgreSQL 15 (trust auth) of the end-to-end tests. */
const LOCAL_POSTGRES = "postgres://postgres@127.0.0.1:5432/test";

// Shapes of testcontainers' objects, for the duck-typing checks only; the example in
// examples/testcontainers runs the real containers.
class StartedPostgreSqlContainer {
  getConnectionUri() {
    return "postgres://test:pg-secret@localhost:32768/test";
  }
}
class StartedMariaDbContainer {
  getConnectionUri() {
    return "mariadb://test:user-secret@localhost:32769/test";
  }
  getRootPassword() {
    return "root p@ss/word";
  }
}
class MariaDbContainer {
  async start() {
    return new StartedMariaDbContainer();
  }
  withDatabase() {
    return this;
  }
}

function codeOf(action: () => unknown): { code: string; engine?: string; message: string } {
  try {
    action();
  } catch (error) {
    expect(error).toBeInstanceOf(EmulatorContainerError);
    const { code, engine, message } = error as EmulatorContainerError;
    return { code, engine, message };
  }
  throw new Error("expected a throw");
}

describe("backendOfContainer reads testcontainers' started containers by shape", () => {
  it("uses a PostgreSQL container's URL, whose user is a superuser", () => {
    expect(backendOfContainer("postgres", new StartedPostgreSqlContainer())).toBe(
      "postgres://test:pg-secret@localhost:32768/test",
    );
  });

  it("logs in to MySQL/MariaDB as root with the root password, URL-encoded, so users can be created", () => {
    const url = new URL(backendOfContainer("mysql", new StartedMariaDbContainer()));
    expect([url.protocol, url.username, decodeURIComponent(url.password), url.host, url.pathname]).toEqual([
      "mariadb:",
      "root",
      "root p@ss/word",
      "localhost:32769",
      "/test",
    ]);
  });

  it("passes a URL through", () => {
    expect(backendOfContainer("mysql", "mysql://root@127.0.0.1:3306/test")).toBe(
      "mysql://root@127.0.0.1:3306/test",
    );
  });

  it("refuses a container that was never started, naming its class and the fix", () => {
    const error = codeOf(() => backendOfContainer("mysql", new MariaDbContainer()));
    expect(error).toMatchObject({ code: "CONTAINER_NOT_STARTED", engine: "mysql" });
    expect(error.message).toContain("await new MariaDbContainer(image).start()");
  });

  it("refuses anything else with what it has, never with values", () => {
    const error = codeOf(() => backendOfContainer("postgres", { host: "db", password: "hunter2" }));
    expect(error).toMatchObject({ code: "NOT_A_CONTAINER", engine: "postgres" });
    expect(error.message).toContain("it has: host, password");
    expect(error.message).not.toContain("hunter2");
    expect(codeOf(() => backendOfContainer("postgres", null)).message).toContain("got null");
    expect(codeOf(() => backendOfContainer("mysql", 3306)).message).toContain("got number");
    expect(codeOf(() => backendOfContainer("mysql", { getConnectionUri: () => 42 })).code).toBe(
      "NOT_A_CONTAINER",
    );
  });
});

describe("startEmulatorFor", () => {
  it("needs a database", async () => {
    await expect(startEmulatorFor({})).rejects.toMatchObject({ code: "NO_DATABASE" });
  });

  it("stops the containers it was given when it cannot start, unless told not to", async () => {
    const stopped: string[] = [];
    const postgres = Object.assign(new StartedPostgreSqlContainer(), {
      stop: async () => void stopped.push("postgres"),
    });
    // TypeScript refuses an unstarted container too; JavaScript callers get the typed error.
    const unstarted = new MariaDbContainer() as never;
    await expect(startEmulatorFor({ postgres, mysql: unstarted })).rejects.toMatchObject({
      code: "CONTAINER_NOT_STARTED",
      engine: "mysql",
    });
    expect(stopped).toEqual(["postgres"]);

    await expect(
      startEmulatorFor({ postgres, mysql: { backend: unstarted }, stopContainers: false }),
    ).rejects.toMatchObject({ code: "CONTAINER_NOT_STARTED" });
    expect(stopped).toEqual(["postgres"]);
  });

  it("awaits containers still starting, and stops the started ones when another fails to start", async () => {
    const stopped: string[] = [];
    const postgres = Object.assign(new StartedPostgreSqlContainer(), {
      stop: async () => void stopped.push("postgres"),
    });
    const pullFailed = new Error("(HTTP code 404) no such image - mariadb:11");
    await expect(
      startEmulatorFor({ postgres: Promise.resolve(postgres), mysql: Promise.reject(pullFailed) }),
    ).rejects.toBe(pullFailed);
    expect(stopped).toEqual(["postgres"]);
  });

  it("trusts its CA in this process until close, so `ssl: true` verifies the gateway", async () => {
    const entra = await startEmulatorFor({ postgres: { backend: LOCAL_POSTGRES, database: "test" } });
    const trusted = () => tls.getCACertificates("default").length;
    const gateway = entra.emulator.postgres as { host: string; port: number; database: string };
    expect(entra.env).toMatchObject({
      AZURE_POSTGRESQL_HOST: "localhost",
      AZURE_POSTGRESQL_PORT: String(gateway.port),
      AZURE_POSTGRESQL_DATABASE: "test",
    });
    const withCa = trusted();

    const client = new pg.Client({
      host: gateway.host,
      port: gateway.port,
      database: gateway.database,
      user: entra.emulator.identities[0]?.name,
      password: entra.emulator.mintToken(),
      ssl: true,
    });
    await client.connect();
    try {
      const { rows } = await client.query("select current_user as name");
      expect(rows).toEqual([{ name: "emulated-app" }]);
    } finally {
      await client.end();
    }

    await entra[Symbol.asyncDispose]();
    await entra.close();
    expect(trusted()).toBe(withCa - 1);
    expect(tls.getCACertificates("default").some((pem) => pem.includes(pemBase64(entra.emulator.ca)))).toBe(
      false,
    );
  });

  it("leaves the process's CAs alone with trustCa: false", async () => {
    const before = tls.getCACertificates("default").length;
    await using entra = await startEmulatorFor({ postgres: LOCAL_POSTGRES, trustCa: false });
    expect(entra.emulator.postgres?.database).toBe("test");
    expect(tls.getCACertificates("default").length).toBe(before);
  });
});

function pemBase64(pem: string): string {
  return (pem.split("\n").find((line) => line && !line.startsWith("-----")) ?? "").trim();
}

import { describe, expect, it, vi } from "vitest";
import { type BackendProbes, containerImages, realProbes, selectBackend } from "../src/select-backend.js";

function probes(overrides: Partial<BackendProbes>): BackendProbes & { started: number } {
  const state = {
    started: 0,
    env: {},
    tcpOpen: async () => false,
    dockerAvailable: async () => false,
    startContainer: async () => {
      state.started++;
      return { url: "postgres://container", stop: async () => {} };
    },
    dockerTimeoutInMs: 200,
    ...overrides,
  };
  return state;
}

describe("integration backend selection", () => {
  it("prefers an explicit ENTRA_IT_POSTGRES_URL", async () => {
    const p = probes({ env: { ENTRA_IT_POSTGRES_URL: "postgres://x@y/z" }, tcpOpen: async () => true });
    expect(await selectBackend("postgresql", p)).toMatchObject({ kind: "url", url: "postgres://x@y/z" });
  });

  it("uses the MySQL variable and the MySQL port for the mysql engine", async () => {
    const seen: number[] = [];
    const p = probes({
      tcpOpen: async (_host, port) => {
        seen.push(port);
        return port === 3306;
      },
    });
    expect(await selectBackend("mysql", p)).toMatchObject({
      kind: "local",
      url: "mysql://root@127.0.0.1:3306/test",
    });
    expect(seen).toEqual([3306]);
    const explicit = probes({
      env: { ENTRA_IT_MYSQL_URL: "mysql://a@b/c", ENTRA_IT_POSTGRES_URL: "postgres://x" },
    });
    expect(await selectBackend("mysql", explicit)).toMatchObject({ kind: "url", url: "mysql://a@b/c" });
    await expect(selectBackend("mysql", probes({}))).rejects.toThrow(
      /No MySQL\/MariaDB backend.*ENTRA_IT_MYSQL_URL/s,
    );
  });

  it("uses the local service when 127.0.0.1:5432 answers", async () => {
    const p = probes({ tcpOpen: async () => true, dockerAvailable: async () => true });
    expect((await selectBackend("postgresql", p)).kind).toBe("local");
    expect(p.started).toBe(0);
  });

  it("starts a container only when a Docker engine answers", async () => {
    const p = probes({ dockerAvailable: async () => true });
    expect(await selectBackend("postgresql", p)).toMatchObject({
      kind: "container",
      url: "postgres://container",
    });
    expect(p.started).toBe(1);
  });

  it("fails with how-to-start advice when Docker detection hangs", async () => {
    const p = probes({ dockerAvailable: () => new Promise(() => {}) });
    const started = Date.now();
    await expect(selectBackend("postgresql", p)).rejects.toThrow(
      /ensure-services\.sh.*ENTRA_IT_POSTGRES_URL/s,
    );
    expect(Date.now() - started).toBeLessThan(5_000);
  });

  it("fails with how-to-start advice when Docker detection rejects", async () => {
    const p = probes({ dockerAvailable: async () => Promise.reject(new Error("no socket")) });
    await expect(selectBackend("postgresql", p)).rejects.toThrow(/No PostgreSQL backend/);
  });

  it("with the real Docker detection, ends within its bound (advice without an engine, a container start with one)", async () => {
    const p = probes({
      dockerAvailable: realProbes.dockerAvailable,
      dockerTimeoutInMs: 3_000,
      startContainer: async () =>
        Promise.reject(new Error("a Docker engine answered: container start attempted")),
    });
    const started = Date.now();
    await expect(selectBackend("postgresql", p)).rejects.toThrow(
      /No PostgreSQL backend|container start attempted/,
    );
    expect(Date.now() - started).toBeLessThan(5_000);
  });

  describe("the testcontainers pass (source: container)", () => {
    it("starts a container even when the local service answers", async () => {
      const p = probes({ tcpOpen: async () => true, dockerAvailable: async () => true });
      expect(await selectBackend("postgresql", p, { source: "container" })).toMatchObject({
        kind: "container",
      });
      expect(p.started).toBe(1);
    });

    it("without a Docker engine, says so and uses the local service", async () => {
      const warnings: string[] = [];
      const warn = vi.spyOn(console, "warn").mockImplementation((line: string) => void warnings.push(line));
      try {
        const p = probes({ tcpOpen: async () => true });
        expect((await selectBackend("mysql", p, { source: "container" })).kind).toBe("local");
        expect(warnings.join("\n")).toMatch(
          /MySQL\/MariaDB testcontainers pass found no Docker engine.*local services/,
        );
      } finally {
        warn.mockRestore();
      }
    });

    it("ENTRA_IT_CONTAINERS=required turns a missing engine into an error that says how to start one", async () => {
      const p = probes({ env: { ENTRA_IT_CONTAINERS: "required" }, tcpOpen: async () => true });
      await expect(selectBackend("postgresql", p, { source: "container" })).rejects.toThrow(
        /No Docker engine answered.*ENTRA_IT_CONTAINERS=required.*ensure-docker\.sh/s,
      );
      expect(p.started).toBe(0);
    });

    it("ENTRA_IT_CONTAINERS=off uses the local service without asking Docker", async () => {
      let asked = 0;
      const warn = vi.spyOn(console, "warn").mockImplementation(() => {});
      try {
        const p = probes({
          env: { ENTRA_IT_CONTAINERS: "off" },
          tcpOpen: async () => true,
          dockerAvailable: async () => ++asked > 0,
        });
        expect((await selectBackend("postgresql", p, { source: "container" })).kind).toBe("local");
        expect(asked).toBe(0);
      } finally {
        warn.mockRestore();
      }
    });

    it("uses the images the environment names, else the official ones", () => {
      expect(containerImages({})).toEqual({ postgresql: "postgres:17-alpine", mysql: "mariadb:11" });
      expect(
        containerImages({
          ENTRA_IT_POSTGRES_IMAGE: "entra-local/postgres:17",
          ENTRA_IT_MARIADB_IMAGE: "m:1",
        }),
      ).toEqual({ postgresql: "entra-local/postgres:17", mysql: "m:1" });
    });
  });
});

import { describe, expect, it } from "vitest";
import { type BackendProbes, realProbes, selectBackend } from "../src/select-backend.js";

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

  it("with the real Docker detection, ends within its bound (no engine here: how-to-start advice)", async () => {
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
});

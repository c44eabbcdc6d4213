import type { AddressInfo } from "node:net";
import * as tls from "node:tls";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createTlsAuthority, type TlsAuthority } from "./tls-authority.js";

function connect(port: number, host: string, options: tls.ConnectionOptions): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = tls.connect({
      port,
      host,
      servername: host === "localhost" ? host : undefined,
      ...options,
    });
    socket.once("secureConnect", () => {
      socket.once("data", (data) => {
        socket.destroy();
        resolve(data.toString());
      });
    });
    socket.once("error", reject);
  });
}

describe("TLS authority", () => {
  let authority: TlsAuthority;
  let server: tls.Server;
  let port: number;
  let generationMs: number;

  beforeAll(async () => {
    const started = performance.now();
    authority = await createTlsAuthority();
    generationMs = performance.now() - started;
    server = tls.createServer({ key: authority.key, cert: authority.cert }, (socket) => socket.end("hello"));
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    port = (server.address() as AddressInfo).port;
  });

  afterAll(async () => {
    await new Promise((resolve) => server.close(resolve));
  });

  it("generates PEM material quickly", () => {
    expect(authority.ca).toMatch(/^-----BEGIN CERTIFICATE-----/);
    expect(authority.key).toMatch(/^-----BEGIN PRIVATE KEY-----/);
    expect(authority.cert.match(/BEGIN CERTIFICATE/g)).toHaveLength(2);
    expect(generationMs).toBeLessThan(1000);
  });

  it("verifies for localhost with the CA", async () => {
    await expect(connect(port, "localhost", { ca: authority.ca })).resolves.toBe("hello");
  });

  it("verifies for 127.0.0.1 with the CA", async () => {
    await expect(connect(port, "127.0.0.1", { ca: authority.ca })).resolves.toBe("hello");
  });

  it("fails verification without the CA", async () => {
    await expect(connect(port, "localhost", {})).rejects.toThrow(/certificate/i);
  });

  it("fails verification for a host name not in the certificate", async () => {
    await expect(
      connect(port, "127.0.0.1", { ca: authority.ca, servername: "db.example.com" }),
    ).rejects.toThrow(/altnames|Hostname/i);
  });

  it("returns given material unchanged", async () => {
    const given = await createTlsAuthority({ given: authority });
    expect(given).toEqual(authority);
  });
});

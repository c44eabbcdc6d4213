import { webcrypto, X509Certificate } from "node:crypto";
import type { AddressInfo } from "node:net";
import * as tls from "node:tls";
import { afterEach, beforeAll, describe, expect, it } from "vitest";
import {
  type CertificateAuthority,
  createCertificateAuthority,
  createSelfSignedCertificate,
  createTlsAuthority,
} from "./tls-authority.js";

const servers: tls.Server[] = [];
afterEach(async () => {
  await Promise.all(servers.splice(0).map((server) => new Promise((resolve) => server.close(resolve))));
});

async function serve(material: { key: string; cert: string }): Promise<number> {
  const server = tls.createServer(material, (socket) => socket.end("hello"));
  servers.push(server);
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  return (server.address() as AddressInfo).port;
}

function connect(port: number, options: tls.ConnectionOptions): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = tls.connect({ host: "127.0.0.1", port, ...options });
    socket.once("secureConnect", () =>
      socket.once("data", (data) => {
        socket.destroy();
        resolve(data.toString());
      }),
    );
    socket.once("error", reject);
  });
}

describe("a certificate authority", () => {
  let authority: CertificateAuthority;
  beforeAll(async () => {
    authority = await createCertificateAuthority();
  });

  it("exposes its CA certificate and PKCS#8 key as PEM", () => {
    expect(authority.ca).toMatch(/^-----BEGIN CERTIFICATE-----/);
    expect(authority.caKey).toMatch(/^-----BEGIN PRIVATE KEY-----/);
  });

  it("issues a chain that verifies for exactly the names asked", async () => {
    const issued = await authority.issue({ names: ["db.example.test", "10.1.2.3"] });
    expect(issued.cert.match(/BEGIN CERTIFICATE/g)).toHaveLength(2);
    expect(issued.cert.endsWith(authority.ca)).toBe(true);
    const port = await serve(issued);
    await expect(connect(port, { ca: authority.ca, servername: "db.example.test" })).resolves.toBe("hello");
    await expect(connect(port, { ca: authority.ca, host: "127.0.0.1" })).rejects.toThrow(/IP: 127\.0\.0\.1/);
    await expect(connect(port, { ca: authority.ca, servername: "localhost" })).rejects.toThrow(/altnames/);
  });

  it("is rebuilt in another place from ca and caKey, issuing leaves the original CA verifies", async () => {
    const rebuilt = await createCertificateAuthority({ given: { ca: authority.ca, caKey: authority.caKey } });
    expect(rebuilt.ca).toBe(authority.ca);
    const port = await serve(await rebuilt.issue({ names: ["localhost"] }));
    await expect(connect(port, { ca: authority.ca, servername: "localhost" })).resolves.toBe("hello");
  });

  it("refuses a given key that does not belong to the given CA", async () => {
    const other = await createCertificateAuthority();
    await expect(
      createCertificateAuthority({ given: { ca: authority.ca, caKey: other.caKey } }),
    ).rejects.toThrow(TypeError);
  });

  it("signs with a given RSA CA key", async () => {
    await import("reflect-metadata");
    const { BasicConstraintsExtension, X509CertificateGenerator, PemConverter } = await import(
      "@peculiar/x509"
    );
    const algorithm = {
      name: "RSASSA-PKCS1-v1_5",
      hash: "SHA-256",
      publicExponent: new Uint8Array([1, 0, 1]),
      modulusLength: 2048,
    };
    const keys = (await webcrypto.subtle.generateKey(algorithm, true, [
      "sign",
      "verify",
    ])) as webcrypto.CryptoKeyPair;
    const caCert = await X509CertificateGenerator.createSelfSigned(
      {
        serialNumber: "01",
        name: "CN=RSA Test CA",
        keys: keys as never,
        signingAlgorithm: algorithm,
        extensions: [new BasicConstraintsExtension(true, 0, true)],
      },
      webcrypto as never,
    );
    const caKey = PemConverter.encode(
      await webcrypto.subtle.exportKey("pkcs8", keys.privateKey),
      "PRIVATE KEY",
    );
    const rsa = await createCertificateAuthority({ given: { ca: caCert.toString("pem"), caKey } });
    const port = await serve(await rsa.issue({ names: ["localhost"] }));
    await expect(connect(port, { ca: rsa.ca, servername: "localhost" })).resolves.toBe("hello");
  });

  it("refuses to issue without names", async () => {
    await expect(authority.issue({ names: [] })).rejects.toThrow(TypeError);
  });

  it("dates certificates from the clock it was given", async () => {
    const now = Date.UTC(2030, 0, 1);
    const dated = await createCertificateAuthority({ now: () => now, validityInDays: 1 });
    const leaf = new X509Certificate((await dated.issue({ names: ["localhost"] })).cert);
    expect(new Date(leaf.validFrom).getTime()).toBe(now - 3_600_000);
    expect(new Date(leaf.validTo).getTime()).toBe(now + 86_400_000);
  });
});

describe("a self-signed certificate", () => {
  it("is refused by a client that verifies the chain and accepted by one that does not", async () => {
    const selfSigned = await createSelfSignedCertificate({ names: ["localhost", "127.0.0.1"] });
    expect(selfSigned.cert.match(/BEGIN CERTIFICATE/g)).toHaveLength(1);
    const port = await serve(selfSigned);
    const { ca } = await createTlsAuthority();
    await expect(connect(port, { ca, servername: "localhost" })).rejects.toThrow(/self[- ]signed/);
    await expect(connect(port, { rejectUnauthorized: false })).resolves.toBe("hello");
  });
});

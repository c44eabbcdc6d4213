import { webcrypto } from "node:crypto";
import type * as X509 from "@peculiar/x509";

/** A self-signed ECDSA P-256 certificate for `localhost` and `127.0.0.1`, for tests. */
export interface TestCertificate {
  /** PEM certificate; also the CA a client must trust. */
  readonly cert: string;
  /** PEM (PKCS#8) private key. */
  readonly key: string;
}

type X509Crypto = Parameters<typeof X509.cryptoProvider.set>[0];

/** Generates a self-signed test certificate valid from one hour ago for one day. */
export async function createTestCertificate(): Promise<TestCertificate> {
  // @peculiar/x509 needs the Reflect metadata polyfill loaded first.
  await import("reflect-metadata");
  const x509 = await import("@peculiar/x509");
  const crypto = webcrypto as unknown as X509Crypto;
  const algorithm = { name: "ECDSA", namedCurve: "P-256", hash: "SHA-256" };
  const keys = (await webcrypto.subtle.generateKey(algorithm, true, [
    "sign",
    "verify",
  ])) as webcrypto.CryptoKeyPair;
  const now = Date.now();
  const certificate = await x509.X509CertificateGenerator.createSelfSigned(
    {
      serialNumber: "01",
      name: "CN=localhost",
      notBefore: new Date(now - 3_600_000),
      notAfter: new Date(now + 86_400_000),
      signingAlgorithm: algorithm,
      keys: keys as never,
      extensions: [
        new x509.BasicConstraintsExtension(true, undefined, true),
        new x509.SubjectAlternativeNameExtension([
          { type: "dns", value: "localhost" },
          { type: "ip", value: "127.0.0.1" },
        ]),
      ],
    },
    crypto,
  );
  const pkcs8 = Buffer.from(await webcrypto.subtle.exportKey("pkcs8", keys.privateKey));
  const key = `-----BEGIN PRIVATE KEY-----\n${pkcs8.toString("base64").replace(/(.{64})/g, "$1\n")}\n-----END PRIVATE KEY-----\n`;
  return { cert: certificate.toString("pem"), key };
}

import { webcrypto } from "node:crypto";

/**
 * PEM material the emulator's TLS listeners use, and the CA a client must trust.
 *
 * Defaults to freshly generated material (see `createTlsAuthority`).
 */
export interface TlsAuthority {
  /** PEM of the CA certificate clients must trust (e.g. through `NODE_EXTRA_CA_CERTS`). */
  readonly ca: string;
  /** PEM (PKCS#8) private key of the server certificate. */
  readonly key: string;
  /** PEM chain: the server certificate followed by the CA certificate. */
  readonly cert: string;
}

/**
 * Options of {@link createTlsAuthority}.
 *
 * Defaults to the values named on each member.
 */
export interface TlsAuthorityOptions {
  /**
   * Existing material to use as is instead of generating a CA and a server certificate.
   * Defaults to undefined (generate fresh ones).
   */
  readonly given?: TlsAuthority;
  /** How long the generated certificates are valid. Defaults to 3 days. */
  readonly validityInDays?: number;
  /** Clock in epoch milliseconds, used for `notBefore`/`notAfter`. Defaults to `Date.now`. */
  readonly now?: () => number;
}

const ecdsa = { name: "ECDSA", namedCurve: "P-256" } as const;
const signingAlgorithm = { name: "ECDSA", hash: "SHA-256" } as const;

/**
 * Generates an ECDSA P-256 CA and a server certificate for `localhost`, `127.0.0.1` and `::1`
 * (or returns the given material), so the emulator can speak TLS that clients verify.
 *
 * @example
 * ```ts
 * const { ca, key, cert } = await createTlsAuthority();
 * tls.createServer({ key, cert });
 * tls.connect({ host: "localhost", port, ca });
 * ```
 *
 * Defaults to freshly generated certificates valid for 3 days, starting one hour in the past.
 */
export async function createTlsAuthority(options: TlsAuthorityOptions = {}): Promise<TlsAuthority> {
  if (options.given) {
    const { ca, key, cert } = options.given;
    return Object.freeze({ ca, key, cert });
  }
  // @peculiar/x509 needs the Reflect metadata polyfill before it loads; importing both lazily keeps
  // this module free of import-time side effects.
  await import("reflect-metadata");
  const x509 = await import("@peculiar/x509");
  type X509Crypto = NonNullable<Parameters<typeof x509.X509CertificateGenerator.create>[1]>;
  const crypto = webcrypto as unknown as X509Crypto;
  const nowMs = (options.now ?? Date.now)();
  const notBefore = new Date(nowMs - 60 * 60 * 1000);
  const notAfter = new Date(nowMs + (options.validityInDays ?? 3) * 24 * 60 * 60 * 1000);

  const caKeys = (await webcrypto.subtle.generateKey(ecdsa, true, [
    "sign",
    "verify",
  ])) as webcrypto.CryptoKeyPair;
  const caName = "CN=Entra Emulator Local CA, O=entra-emulator";
  const caCert = await x509.X509CertificateGenerator.createSelfSigned(
    {
      serialNumber: randomSerial(),
      name: caName,
      notBefore,
      notAfter,
      keys: caKeys,
      signingAlgorithm,
      extensions: [
        new x509.BasicConstraintsExtension(true, 0, true),
        new x509.KeyUsagesExtension(x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign, true),
        await x509.SubjectKeyIdentifierExtension.create(caKeys.publicKey, false, crypto),
      ],
    },
    crypto,
  );

  const serverKeys = (await webcrypto.subtle.generateKey(ecdsa, true, [
    "sign",
    "verify",
  ])) as webcrypto.CryptoKeyPair;
  const serverCert = await x509.X509CertificateGenerator.create(
    {
      serialNumber: randomSerial(),
      subject: "CN=localhost, O=entra-emulator",
      issuer: caCert.subject,
      notBefore,
      notAfter,
      publicKey: serverKeys.publicKey,
      signingKey: caKeys.privateKey,
      signingAlgorithm,
      extensions: [
        new x509.BasicConstraintsExtension(false, undefined, true),
        new x509.KeyUsagesExtension(
          x509.KeyUsageFlags.digitalSignature | x509.KeyUsageFlags.keyAgreement,
          true,
        ),
        new x509.ExtendedKeyUsageExtension([x509.ExtendedKeyUsage.serverAuth], false),
        new x509.SubjectAlternativeNameExtension(
          [
            { type: "dns", value: "localhost" },
            { type: "ip", value: "127.0.0.1" },
            { type: "ip", value: "::1" },
          ],
          false,
        ),
        await x509.AuthorityKeyIdentifierExtension.create(caKeys.publicKey, false, crypto),
      ],
    },
    crypto,
  );

  const pkcs8 = await webcrypto.subtle.exportKey("pkcs8", serverKeys.privateKey);
  const ca = caCert.toString("pem");
  return Object.freeze({
    ca: `${ca}\n`,
    key: `${x509.PemConverter.encode(pkcs8, "PRIVATE KEY")}\n`,
    cert: `${serverCert.toString("pem")}\n${ca}\n`,
  });
}

function randomSerial(): string {
  const bytes = webcrypto.getRandomValues(new Uint8Array(16));
  // A positive serial: clear the top bit.
  bytes[0] = (bytes[0] ?? 0) & 0x7f;
  return Buffer.from(bytes).toString("hex");
}

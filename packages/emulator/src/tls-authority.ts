import { createPrivateKey, createPublicKey, webcrypto, X509Certificate } from "node:crypto";
import { isIP } from "node:net";

/** PEM material the emulator's TLS listeners use, and the CA a client must trust (see {@link createTlsAuthority}). */
export interface TlsAuthority {
  /** PEM of the CA certificate clients must trust (e.g. through `NODE_EXTRA_CA_CERTS`). */
  readonly ca: string;
  /** PEM (PKCS#8) private key of the server certificate. */
  readonly key: string;
  /** PEM chain: the server certificate followed by the CA certificate. */
  readonly cert: string;
}

/** Options of {@link createTlsAuthority}. */
export interface TlsAuthorityOptions {
  /** Existing material to use as is; without it a fresh CA and server certificate are generated. */
  readonly given?: TlsAuthority;
  /** How long the generated certificates are valid. Defaults to 3 days. */
  readonly validityInDays?: number;
  /** Clock in epoch milliseconds, used for `notBefore`/`notAfter`. Defaults to `Date.now`. */
  readonly now?: () => number;
}

/** Options of {@link CertificateAuthority.issue}. */
export interface IssueCertificateOptions {
  /**
   * DNS names and IP addresses (v4 or v6) the certificate is valid for, e.g.
   * `["localhost", "127.0.0.1", "::1"]`. The first is also the subject's common name. At least one.
   */
  readonly names: readonly string[];
  /** How long the certificate is valid. Defaults to the authority's `validityInDays` (3 days). */
  readonly validityInDays?: number;
}

/** A server certificate from {@link CertificateAuthority.issue}, ready for `tls.createServer({ key, cert })`. */
export interface IssuedCertificate {
  /** PEM (PKCS#8) of the certificate's ECDSA P-256 private key. */
  readonly key: string;
  /** PEM chain: the server certificate followed by the CA certificate. */
  readonly cert: string;
}

/**
 * A certificate authority that issues TLS server certificates, e.g. a trusted one for the emulator
 * and one for a name the client did not ask for (a hostile server).
 */
export interface CertificateAuthority {
  /** PEM of the CA certificate (what a client trusts). */
  readonly ca: string;
  /** PEM (PKCS#8) of the CA's private key, so another process can rebuild the authority with `given`. */
  readonly caKey: string;
  /**
   * Issues a server certificate (ECDSA P-256, `serverAuth`) for the given DNS names / IP addresses,
   * signed by this CA, valid from one hour before now. `cert` is the leaf PEM followed by the CA PEM.
   * Rejects with a `TypeError` when `names` is empty.
   */
  issue(options: IssueCertificateOptions): Promise<IssuedCertificate>;
}

/** Options of {@link createCertificateAuthority}. */
export interface CertificateAuthorityOptions {
  /**
   * An existing CA certificate and its PKCS#8 private key (ECDSA P-256/P-384 or RSA), e.g. another
   * process's `ca` and `caKey`; without it a fresh ECDSA P-256 CA is generated.
   */
  readonly given?: {
    /** PEM of the CA certificate. */
    readonly ca: string;
    /** PEM (PKCS#8) of the CA's private key. */
    readonly caKey: string;
  };
  /** How long a generated CA, and by default every issued certificate, is valid. Defaults to 3 days. */
  readonly validityInDays?: number;
  /** Clock in epoch milliseconds, used for `notBefore`/`notAfter`. Defaults to `Date.now`. */
  readonly now?: () => number;
}

/** The names of the emulator's own server certificate. */
const LOCAL_NAMES = ["localhost", "127.0.0.1", "::1"] as const;
const DEFAULT_VALIDITY_IN_DAYS = 3;
const DAY_MS = 24 * 60 * 60 * 1000;
const ecdsaP256 = { name: "ECDSA", namedCurve: "P-256" } as const;

type X509 = typeof import("@peculiar/x509");
type X509Crypto = NonNullable<Parameters<X509["X509CertificateGenerator"]["create"]>[1]>;

/** A key that signs certificates, with the name and public key it signs as. */
interface Signer {
  readonly name: string;
  readonly privateKey: webcrypto.CryptoKey;
  readonly publicKey: webcrypto.CryptoKey | ArrayBuffer;
  readonly algorithm: { readonly name: string; readonly hash?: string };
}

/**
 * Creates a certificate authority: a fresh ECDSA P-256 CA (`CN=Entra Emulator Local CA`, valid
 * for 3 days unless `validityInDays` says otherwise, starting one hour in the past), or the given
 * CA certificate and key. Rejects with a `TypeError` when the given key does not belong to the
 * given certificate or has an unsupported type.
 *
 * @example
 * ```ts
 * const authority = await createCertificateAuthority();
 * const { key, cert } = await authority.issue({ names: ["db.example.test"] });
 * tls.createServer({ key, cert });
 * tls.connect({ host: "127.0.0.1", servername: "db.example.test", port, ca: authority.ca });
 * ```
 */
export async function createCertificateAuthority(
  options: CertificateAuthorityOptions = {},
): Promise<CertificateAuthority> {
  const x509 = await loadX509();
  const now = options.now ?? Date.now;
  const validityInDays = options.validityInDays ?? DEFAULT_VALIDITY_IN_DAYS;
  let ca: string;
  let caKey: string;
  let signer: Signer;
  if (options.given) {
    ({ ca, caKey } = options.given);
    signer = await importSigner(x509, ca, caKey);
  } else {
    const keys = await generateKeys();
    const name = "CN=Entra Emulator Local CA, O=entra-emulator";
    const certificate = await buildCertificate(x509, {
      keys,
      subject: name,
      issuer: undefined,
      names: [],
      authority: true,
      ...validity(now(), validityInDays),
    });
    ca = `${certificate}\n`;
    caKey = await exportPrivateKey(x509, keys.privateKey);
    signer = { name, privateKey: keys.privateKey, publicKey: keys.publicKey, algorithm: ecdsaSigning };
  }
  const chainTail = ca.endsWith("\n") ? ca : `${ca}\n`;
  return Object.freeze({
    ca,
    caKey,
    async issue(issue: IssueCertificateOptions): Promise<IssuedCertificate> {
      const leaf = await buildLeaf(
        x509,
        issue.names,
        signer,
        validity(now(), issue.validityInDays ?? validityInDays),
      );
      return Object.freeze({ key: leaf.key, cert: `${leaf.cert}${chainTail}` });
    },
  });
}

/**
 * Generates an ECDSA P-256 CA and a server certificate for `localhost`, `127.0.0.1` and `::1`
 * (valid for 3 days unless `validityInDays` says otherwise, starting one hour in the past), or
 * returns the given material, so the emulator can speak TLS that clients verify.
 *
 * @example
 * ```ts
 * const { ca, key, cert } = await createTlsAuthority();
 * tls.createServer({ key, cert });
 * tls.connect({ host: "localhost", port, ca });
 * ```
 */
export async function createTlsAuthority(options: TlsAuthorityOptions = {}): Promise<TlsAuthority> {
  if (options.given) {
    const { ca, key, cert } = options.given;
    return Object.freeze({ ca, key, cert });
  }
  const authority = await createCertificateAuthority({
    validityInDays: options.validityInDays,
    now: options.now,
  });
  const { key, cert } = await authority.issue({ names: LOCAL_NAMES });
  return Object.freeze({ ca: authority.ca, key, cert });
}

/**
 * The emulator's TLS material and, when the emulator generated its CA (no `given`), `issue` for more
 * server certificates signed by that CA (e.g. the one the instance-discovery proxy presents).
 */
export interface EmulatorTls extends TlsAuthority {
  /** Issues a server certificate for `names` from the emulator's CA; undefined with `given` material. */
  readonly issue?: (names: readonly string[]) => Promise<IssuedCertificate>;
}

/**
 * {@link createTlsAuthority} that keeps the generated CA able to issue more certificates.
 *
 * @example
 * const tls = await createEmulatorTls({});
 * const other = await tls.issue?.(["login.microsoftonline.com"]);
 */
export async function createEmulatorTls(options: TlsAuthorityOptions = {}): Promise<EmulatorTls> {
  if (options.given) return createTlsAuthority(options);
  const authority = await createCertificateAuthority({
    validityInDays: options.validityInDays,
    now: options.now,
  });
  const { key, cert } = await authority.issue({ names: LOCAL_NAMES });
  return Object.freeze({
    ca: authority.ca,
    key,
    cert,
    issue: (names: readonly string[]) => authority.issue({ names }),
  });
}

/** A client certificate from {@link createClientCertificate}. */
export interface ClientCertificate {
  /** PEM (PKCS#8) of the RSA 2048 private key. */
  readonly key: string;
  /** PEM of the self-signed certificate. */
  readonly cert: string;
}

/**
 * A self-signed RSA 2048 certificate (SHA-256, `clientAuth`) for an app registration, like the ones
 * `New-SelfSignedCertificate` or `az ad sp create-for-rbac --create-cert` make: the key signs client
 * assertions, the certificate is what the app registration holds.
 *
 * @example
 * const { key, cert } = await createClientCertificate({ subject: "orders-api" });
 * writeFileSync("orders-api.pem", key + cert); // AZURE_CLIENT_CERTIFICATE_PATH
 */
export async function createClientCertificate(options: {
  readonly subject: string;
  readonly validityInDays?: number;
  readonly now?: () => number;
}): Promise<ClientCertificate> {
  const x509 = await loadX509();
  const crypto = x509Crypto();
  const algorithm = {
    name: "RSASSA-PKCS1-v1_5",
    hash: "SHA-256",
    modulusLength: 2048,
    publicExponent: new Uint8Array([1, 0, 1]),
  };
  const keys = (await webcrypto.subtle.generateKey(algorithm, true, [
    "sign",
    "verify",
  ])) as webcrypto.CryptoKeyPair;
  const name = `CN=${options.subject.slice(0, 64).replace(/[,+="\\<>;]/g, "_")}`;
  const span = validity((options.now ?? Date.now)(), options.validityInDays ?? 365);
  const certificate = await x509.X509CertificateGenerator.create(
    {
      serialNumber: randomSerial(),
      subject: name,
      issuer: name,
      ...span,
      publicKey: keys.publicKey,
      signingKey: keys.privateKey,
      signingAlgorithm: { name: "RSASSA-PKCS1-v1_5" },
      extensions: [
        new x509.BasicConstraintsExtension(false, undefined, true),
        new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature, true),
        new x509.ExtendedKeyUsageExtension([x509.ExtendedKeyUsage.clientAuth], false),
        await x509.SubjectKeyIdentifierExtension.create(keys.publicKey, false, crypto),
      ],
    },
    crypto,
  );
  return Object.freeze({
    key: await exportPrivateKey(x509, keys.privateKey),
    cert: `${certificate.toString("pem")}\n`,
  });
}

/**
 * A self-signed server certificate (not issued by any CA) for `names`: what a client that verifies
 * the chain must refuse. `cert` is the certificate alone.
 */
export async function createSelfSignedCertificate(
  options: IssueCertificateOptions & { readonly now?: () => number },
): Promise<IssuedCertificate> {
  const x509 = await loadX509();
  const span = validity((options.now ?? Date.now)(), options.validityInDays ?? DEFAULT_VALIDITY_IN_DAYS);
  return Object.freeze(await buildLeaf(x509, options.names, undefined, span));
}

/** A server certificate for `names` with a fresh key, signed by `issuer` (self-signed without one). */
async function buildLeaf(
  x509: X509,
  names: readonly string[],
  issuer: Signer | undefined,
  span: ReturnType<typeof validity>,
): Promise<IssuedCertificate> {
  const keys = await generateKeys();
  const certificate = await buildCertificate(x509, {
    keys,
    subject: subjectFor(names),
    issuer,
    names,
    authority: false,
    ...span,
  });
  return { key: await exportPrivateKey(x509, keys.privateKey), cert: `${certificate}\n` };
}

const ecdsaSigning = { name: "ECDSA", hash: "SHA-256" } as const;

async function loadX509(): Promise<X509> {
  // @peculiar/x509 needs the Reflect metadata polyfill before it loads; importing both lazily keeps
  // this module free of import-time side effects.
  await import("reflect-metadata");
  return import("@peculiar/x509");
}

function x509Crypto(): X509Crypto {
  return webcrypto as unknown as X509Crypto;
}

async function generateKeys(): Promise<webcrypto.CryptoKeyPair> {
  return (await webcrypto.subtle.generateKey(ecdsaP256, true, ["sign", "verify"])) as webcrypto.CryptoKeyPair;
}

async function exportPrivateKey(x509: X509, key: webcrypto.CryptoKey): Promise<string> {
  const pkcs8 = await webcrypto.subtle.exportKey("pkcs8", key);
  return `${x509.PemConverter.encode(pkcs8, "PRIVATE KEY")}\n`;
}

function validity(nowMs: number, days: number): { notBefore: Date; notAfter: Date } {
  return { notBefore: new Date(nowMs - 60 * 60 * 1000), notAfter: new Date(nowMs + days * DAY_MS) };
}

function subjectFor(names: readonly string[]): string {
  const first = names[0];
  if (first === undefined || names.some((name) => name.length === 0)) {
    throw new TypeError("A certificate needs at least one non-empty DNS name or IP address.");
  }
  // A common name is at most 64 characters; the SAN extension carries the full names.
  return `CN=${first.slice(0, 64).replace(/[,+="\\<>;]/g, "_")}, O=entra-emulator`;
}

/**
 * The one place certificates are built: a CA (`authority: true`, self-signed) or a server leaf,
 * signed by `issuer` or, without one, by its own key.
 */
async function buildCertificate(
  x509: X509,
  params: {
    readonly keys: webcrypto.CryptoKeyPair;
    readonly subject: string;
    readonly issuer: Signer | undefined;
    readonly names: readonly string[];
    readonly authority: boolean;
    readonly notBefore: Date;
    readonly notAfter: Date;
  },
): Promise<string> {
  const crypto = x509Crypto();
  const issuer: Signer = params.issuer ?? {
    name: params.subject,
    privateKey: params.keys.privateKey,
    publicKey: params.keys.publicKey,
    algorithm: ecdsaSigning,
  };
  const extensions = params.authority
    ? [
        new x509.BasicConstraintsExtension(true, 0, true),
        new x509.KeyUsagesExtension(x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign, true),
        await x509.SubjectKeyIdentifierExtension.create(params.keys.publicKey, false, crypto),
      ]
    : [
        new x509.BasicConstraintsExtension(false, undefined, true),
        new x509.KeyUsagesExtension(
          x509.KeyUsageFlags.digitalSignature | x509.KeyUsageFlags.keyAgreement,
          true,
        ),
        new x509.ExtendedKeyUsageExtension([x509.ExtendedKeyUsage.serverAuth], false),
        new x509.SubjectAlternativeNameExtension(
          params.names.map((value) => ({ type: isIP(value) ? "ip" : "dns", value }) as const),
          false,
        ),
        await x509.SubjectKeyIdentifierExtension.create(params.keys.publicKey, false, crypto),
        await x509.AuthorityKeyIdentifierExtension.create(issuer.publicKey, false, crypto),
      ];
  const certificate = await x509.X509CertificateGenerator.create(
    {
      serialNumber: randomSerial(),
      subject: params.subject,
      issuer: issuer.name,
      notBefore: params.notBefore,
      notAfter: params.notAfter,
      publicKey: params.keys.publicKey,
      signingKey: issuer.privateKey,
      signingAlgorithm: issuer.algorithm,
      extensions,
    },
    crypto,
  );
  return certificate.toString("pem");
}

/** Imports a given CA certificate and PKCS#8 key as a signer, checking that they belong together. */
async function importSigner(x509: X509, ca: string, caKey: string): Promise<Signer> {
  let certificate: X509Certificate;
  let privateKey: ReturnType<typeof createPrivateKey>;
  try {
    certificate = new X509Certificate(ca);
    privateKey = createPrivateKey(caKey);
  } catch (error) {
    throw new TypeError(`given.ca and given.caKey must be PEM: ${(error as Error).message}`);
  }
  const spki = certificate.publicKey.export({ type: "spki", format: "der" });
  if (!createPublicKey(privateKey).export({ type: "spki", format: "der" }).equals(spki)) {
    throw new TypeError("given.caKey is not the private key of given.ca.");
  }
  const algorithm = signingAlgorithmOf(privateKey);
  const pkcs8 = privateKey.export({ type: "pkcs8", format: "der" });
  const imported = await webcrypto.subtle.importKey("pkcs8", pkcs8, algorithm.importParams, false, ["sign"]);
  const name = new x509.X509Certificate(ca).subject;
  const publicKey = spki.buffer.slice(spki.byteOffset, spki.byteOffset + spki.byteLength) as ArrayBuffer;
  return { name, privateKey: imported, publicKey, algorithm: algorithm.signing };
}

function signingAlgorithmOf(key: ReturnType<typeof createPrivateKey>): {
  importParams: webcrypto.EcKeyImportParams | webcrypto.RsaHashedImportParams;
  signing: { name: string; hash?: string };
} {
  if (key.asymmetricKeyType === "rsa") {
    return {
      importParams: { name: "RSASSA-PKCS1-v1_5", hash: "SHA-256" },
      signing: { name: "RSASSA-PKCS1-v1_5" },
    };
  }
  const curve = key.asymmetricKeyDetails?.namedCurve;
  if (key.asymmetricKeyType === "ec" && (curve === "prime256v1" || curve === "secp384r1")) {
    const p384 = curve === "secp384r1";
    return {
      importParams: { name: "ECDSA", namedCurve: p384 ? "P-384" : "P-256" },
      signing: { name: "ECDSA", hash: p384 ? "SHA-384" : "SHA-256" },
    };
  }
  throw new TypeError(
    `given.caKey must be an ECDSA P-256/P-384 or RSA key, got ${key.asymmetricKeyType ?? "unknown"}.`,
  );
}

function randomSerial(): string {
  const bytes = webcrypto.getRandomValues(new Uint8Array(16));
  // A positive serial: clear the top bit.
  bytes[0] = (bytes[0] ?? 0) & 0x7f;
  return Buffer.from(bytes).toString("hex");
}

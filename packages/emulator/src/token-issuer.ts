import { createHash, generateKeyPair, type KeyObject, randomBytes, sign } from "node:crypto";
import type { EmulatedIdentity } from "./resolve-identities.js";

/** A JSON Web Key of the issuer's RSA signing key. */
export interface JsonWebKey {
  /** Key type: always `RSA`. */
  readonly kty: "RSA";
  /** Public key use: always `sig` (signatures). */
  readonly use: "sig";
  /** The algorithm the key signs with: always `RS256`. */
  readonly alg: "RS256";
  /** Key id, matched against the `kid` in a token's header. */
  readonly kid: string;
  /** Thumbprint of the key (base64url SHA-1 of its SPKI), equal to `kid`. */
  readonly x5t: string;
  /** The RSA modulus, base64url. */
  readonly n: string;
  /** The RSA public exponent, base64url. */
  readonly e: string;
}

/** A JSON Web Key Set, as served at Entra's `discovery/keys`; an issuer's holds its one key. */
export interface JsonWebKeySet {
  /** The signing keys. */
  readonly keys: readonly JsonWebKey[];
}

/** Options of {@link TokenIssuer.mintToken}. */
export interface MintTokenOptions {
  /** The identity the token is issued to. */
  readonly identity: EmulatedIdentity;
  /** The `aud` claim: the resource, e.g. `https://ossrdbms-aad.database.windows.net`. */
  readonly audience: string;
  /** Seconds from `iat` to `exp`. */
  readonly lifetimeInSeconds: number;
  /** Seconds from `iat` to `nbf` (negative = in the past). Defaults to 0. */
  readonly notBeforeOffsetInSeconds?: number;
  /** `iat` in epoch seconds. Defaults to the issuer's clock, in whole seconds. */
  readonly issuedAt?: number;
  /** `tid` and the tenant in `iss`. Defaults to the issuer's tenant. */
  readonly tenantId?: string;
  /** `bad` signs different bytes, so the signature does not verify. Defaults to `valid`. */
  readonly signature?: "valid" | "bad";
  /** Extra claims merged over the standard ones (set a claim to `undefined` to drop it). */
  readonly claims?: Readonly<Record<string, unknown>>;
}

/** A minted token with its timing, returned by {@link TokenIssuer.mintToken}. */
export interface MintedToken {
  /** The compact JWT. */
  readonly token: string;
  /** `iat` in epoch seconds. */
  readonly issuedAt: number;
  /** `nbf` in epoch seconds. */
  readonly notBefore: number;
  /** `exp` in epoch seconds. */
  readonly expiresOn: number;
}

/** Signs managed-identity-shaped RS256 JWTs with one RSA 2048 key of its own. */
export interface TokenIssuer {
  /** The tenant tokens are issued in. */
  readonly tenantId: string;
  /** Key id in the JWT header (`kid`, equal to `x5t`). */
  readonly kid: string;
  /** Public key to verify tokens with. */
  readonly publicKey: KeyObject;
  /** The public key as a JWKS. */
  readonly jwks: JsonWebKeySet;
  /** Mints a v1 managed-identity access token. */
  mintToken(options: MintTokenOptions): MintedToken;
}

/** Options of {@link createTokenIssuer}. */
export interface TokenIssuerOptions {
  /** The tenant id. Defaults to `72f988bf-0000-4000-8000-00000000e417`. */
  readonly tenantId?: string;
  /** Clock in epoch milliseconds. Defaults to `Date.now`. */
  readonly now?: () => number;
}

/** The tenant used wherever none is configured. */
export const defaultTenantId = "72f988bf-0000-4000-8000-00000000e417";

/**
 * Creates a token issuer with a fresh RSA 2048 key pair (one per emulator). Without options it
 * issues in tenant `72f988bf-0000-4000-8000-00000000e417` with `Date.now` as the clock.
 *
 * @example
 * ```ts
 * const issuer = await createTokenIssuer();
 * const { token } = issuer.mintToken({ identity, audience: "https://ossrdbms-aad.database.windows.net", lifetimeInSeconds: 3600 });
 * ```
 */
export async function createTokenIssuer(options: TokenIssuerOptions = {}): Promise<TokenIssuer> {
  const tenantId = options.tenantId ?? defaultTenantId;
  const now = options.now ?? Date.now;
  const { privateKey, publicKey } = await new Promise<{ privateKey: KeyObject; publicKey: KeyObject }>(
    (resolve, reject) =>
      generateKeyPair("rsa", { modulusLength: 2048, publicExponent: 0x10001 }, (error, pub, priv) =>
        error ? reject(error) : resolve({ privateKey: priv, publicKey: pub }),
      ),
  );
  const spki = publicKey.export({ type: "spki", format: "der" });
  const kid = createHash("sha1").update(spki).digest("base64url");
  const jwks = rsaKeySet(publicKey, kid);
  const header = encodeSegment({ typ: "JWT", alg: "RS256", kid, x5t: kid });

  function mintToken(mint: MintTokenOptions): MintedToken {
    const tid = mint.tenantId ?? tenantId;
    const iss = `https://sts.windows.net/${tid}/`;
    const issuedAt = mint.issuedAt ?? Math.floor(now() / 1000);
    const notBefore = issuedAt + (mint.notBeforeOffsetInSeconds ?? 0);
    const expiresOn = issuedAt + mint.lifetimeInSeconds;
    const { identity } = mint;
    const payload: Record<string, unknown> = {
      aud: mint.audience,
      iss,
      iat: issuedAt,
      nbf: notBefore,
      exp: expiresOn,
      aio: `E2${randomBytes(48).toString("base64")}`,
      appid: identity.clientId,
      appidacr: "2",
      idp: iss,
      idtyp: "app",
      oid: identity.objectId,
      rh: `1.${randomBytes(33).toString("base64url")}.`,
      sub: identity.objectId,
      tid,
      uti: randomBytes(16).toString("base64url"),
      ver: "1.0",
      xms_mirid: identity.resourceId,
      ...mint.claims,
    };
    const signingInput = `${header}.${encodeSegment(payload)}`;
    const signed = mint.signature === "bad" ? `${signingInput}.tampered` : signingInput;
    const signature = sign("RSA-SHA256", Buffer.from(signed), privateKey).toString("base64url");
    return Object.freeze({ token: `${signingInput}.${signature}`, issuedAt, notBefore, expiresOn });
  }

  return Object.freeze({ tenantId, kid, publicKey, jwks, mintToken });
}

function encodeSegment(value: unknown): string {
  return Buffer.from(JSON.stringify(value)).toString("base64url");
}

/**
 * The JSON Web Key Set that publishes one RS256 signing key, with `kid` also as its `x5t`.
 *
 * @param publicKey - The RSA public key.
 * @param kid - The key id tokens name in their header.
 * @returns A frozen key set.
 */
export function rsaKeySet(publicKey: KeyObject, kid: string): JsonWebKeySet {
  const jwk = publicKey.export({ format: "jwk" });
  return Object.freeze({
    keys: Object.freeze([
      Object.freeze({
        kty: "RSA" as const,
        use: "sig" as const,
        alg: "RS256" as const,
        kid,
        x5t: kid,
        n: String(jwk.n),
        e: String(jwk.e),
      }),
    ]),
  });
}

import { createHash, generateKeyPairSync, type KeyObject, sign, verify } from "node:crypto";
import { federatedTokenAudience } from "./resolve-identities.js";
import { type JsonWebKeySet, rsaKeySet } from "./token-issuer.js";
import { parseJwt } from "./token-validation.js";

/** Options of {@link FederatedTokenIssuer.mint}. */
export interface MintFederatedTokenOptions {
  /** The `sub` claim, e.g. `system:serviceaccount:default:orders-api` (AKS) or `repo:org/app:ref:refs/heads/main` (GitHub). */
  readonly subject: string;
  /** The `aud` claim (an array, as Kubernetes writes it). Defaults to `["api://AzureADTokenExchange"]`. */
  readonly audience?: string | readonly string[];
  /** Seconds from `iat` to `exp`. */
  readonly lifetimeInSeconds: number;
  /** `iat` in epoch seconds. Defaults to now. */
  readonly issuedAt?: number;
  /** The `iss` claim. Defaults to the issuer's URL (a foreign one makes an assertion Entra cannot match). */
  readonly issuer?: string;
  /** `bad`: a signature that does not verify; `none`: an unsigned JWT (`alg: none`). Defaults to `valid`. */
  readonly signature?: "valid" | "bad" | "none";
  /** Extra or overriding claims. */
  readonly claims?: Readonly<Record<string, unknown>>;
}

/** What {@link FederatedTokenIssuer.verify} found. */
export type FederatedTokenCheck =
  | {
      readonly ok: true;
      readonly header: Readonly<Record<string, unknown>>;
      readonly claims: Readonly<Record<string, unknown>>;
    }
  | { readonly ok: false; readonly reason: "malformed" | "signature" };

/**
 * The emulator's OIDC issuer: what the AKS OIDC issuer (service account tokens) or GitHub's
 * `token.actions.githubusercontent.com` is to Entra workload identity federation. It signs RS256
 * JWTs with its own RSA key (created on first use) and serves its discovery document and JWKS.
 */
export interface FederatedTokenIssuer {
  /** The issuer URL, the `iss` of its tokens, e.g. `https://localhost:40123/oidc`. */
  readonly url: string;
  /** The public signing key. */
  readonly jwks: JsonWebKeySet;
  /** The OIDC discovery document (`{url}/.well-known/openid-configuration`). */
  readonly discovery: Readonly<Record<string, unknown>>;
  /** Mints a federated token (a Kubernetes service-account-shaped JWT). */
  mint(options: MintFederatedTokenOptions): string;
  /** Parses a JWT and checks its RS256 signature against this issuer's key. */
  verify(token: string): FederatedTokenCheck;
}

/**
 * Creates the OIDC issuer at `url`; its RSA 2048 key is generated on first use.
 *
 * @example
 * const issuer = createFederatedTokenIssuer({ url: "https://localhost:40123/oidc" });
 * issuer.mint({ subject: "system:serviceaccount:default:orders-api", lifetimeInSeconds: 3600 });
 */
export function createFederatedTokenIssuer(options: {
  readonly url: string;
  readonly now?: () => number;
}): FederatedTokenIssuer {
  const now = options.now ?? Date.now;
  let keys: { privateKey: KeyObject; publicKey: KeyObject; kid: string; jwks: JsonWebKeySet } | undefined;
  const signingKeys = () => {
    if (!keys) {
      const { privateKey, publicKey } = generateKeyPairSync("rsa", { modulusLength: 2048 });
      const kid = createHash("sha256")
        .update(publicKey.export({ type: "spki", format: "der" }))
        .digest("base64url")
        .slice(0, 43);
      keys = { privateKey, publicKey, kid, jwks: rsaKeySet(publicKey, kid) };
    }
    return keys;
  };

  return Object.freeze({
    url: options.url,
    get jwks() {
      return signingKeys().jwks;
    },
    discovery: Object.freeze({
      issuer: options.url,
      jwks_uri: `${options.url}/openid/v1/jwks`,
      response_types_supported: ["id_token"],
      subject_types_supported: ["public"],
      id_token_signing_alg_values_supported: ["RS256"],
    }),
    mint(mint: MintFederatedTokenOptions): string {
      const issuedAt = mint.issuedAt ?? Math.floor(now() / 1000);
      const audience = mint.audience ?? [federatedTokenAudience];
      const serviceAccount = /^system:serviceaccount:([^:]+):([^:]+)$/.exec(mint.subject);
      const payload: Record<string, unknown> = {
        aud: typeof audience === "string" ? [audience] : [...audience],
        exp: issuedAt + mint.lifetimeInSeconds,
        iat: issuedAt,
        iss: mint.issuer ?? options.url,
        ...(serviceAccount
          ? {
              "kubernetes.io": {
                namespace: serviceAccount[1],
                serviceaccount: { name: serviceAccount[2], uid: "00000000-0000-4000-8000-0000000000e4" },
              },
            }
          : {}),
        nbf: issuedAt,
        sub: mint.subject,
        ...mint.claims,
      };
      if (mint.signature === "none") {
        return `${segment({ alg: "none", typ: "JWT" })}.${segment(payload)}.`;
      }
      const { privateKey, kid } = signingKeys();
      const signingInput = `${segment({ alg: "RS256", kid, typ: "JWT" })}.${segment(payload)}`;
      const signed = mint.signature === "bad" ? `${signingInput}.tampered` : signingInput;
      return `${signingInput}.${sign("RSA-SHA256", Buffer.from(signed), privateKey).toString("base64url")}`;
    },
    verify(token: string): FederatedTokenCheck {
      const parsed = parseJwt(token);
      if (!parsed) return { ok: false, reason: "malformed" };
      const { header, claims, signingInput, signature } = parsed;
      if (header.alg !== "RS256" || signature.length === 0) return { ok: false, reason: "signature" };
      const { publicKey, kid } = signingKeys();
      if (header.kid !== undefined && header.kid !== kid) return { ok: false, reason: "signature" };
      const valid = verify("RSA-SHA256", Buffer.from(signingInput), publicKey, signature);
      return valid ? { ok: true, header, claims } : { ok: false, reason: "signature" };
    },
  });
}

function segment(value: unknown): string {
  return Buffer.from(JSON.stringify(value)).toString("base64url");
}

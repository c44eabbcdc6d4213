import { writeFile } from "node:fs/promises";
import { join } from "node:path";
import { type DiscoveryProxy, INSTANCE_DISCOVERY_HOST, startDiscoveryProxy } from "./discovery-proxy.js";
import type { ServicePrincipalEnvSources } from "./emulator-env.js";
import type { ServicePrincipalCredential } from "./emulator-options.js";
import { type EntraAuthority, startEntraAuthority } from "./entra-authority.js";
import { createFederatedTokenIssuer } from "./federated-token-issuer.js";
import { defaultFederatedSubject, type EmulatedIdentity } from "./resolve-identities.js";
import { createClientCertificate, type EmulatorTls } from "./tls-authority.js";
import type { TokenIssuer } from "./token-issuer.js";
import type { TokenRequestControl } from "./token-request-control.js";

/** Options of `emulator.mintFederatedToken` and `emulator.writeFederatedTokenFile`. */
export interface FederatedTokenOptions {
  /**
   * The service principal (by name) whose first federated credential gives the default `sub` and
   * `aud`. Defaults to the default identity when it is a service principal, else the first one.
   */
  readonly identity?: string;
  /** The `sub` claim. Defaults to the service principal's first federated credential's subject. */
  readonly subject?: string;
  /** The `aud` claim. Defaults to that credential's audiences (`api://AzureADTokenExchange`). */
  readonly audience?: string | readonly string[];
  /** The `iss` claim. Defaults to the emulator's OIDC issuer (`emulator.oidcIssuer`). */
  readonly issuer?: string;
  /** Seconds from `iat` to `exp`. Defaults to 3600, as a Kubernetes projected service account token. */
  readonly lifetimeInSeconds?: number;
  /** A token that expired 10 minutes ago (beyond Entra's tolerance). Defaults to false. */
  readonly expired?: boolean;
  /** `bad`: a signature that does not verify; `none`: an unsigned JWT. Defaults to `valid`. */
  readonly signature?: "valid" | "bad" | "none";
  /** Extra or overriding claims. */
  readonly claims?: Readonly<Record<string, unknown>>;
}

/** Options of `emulator.writeFederatedTokenFile`. */
export interface FederatedTokenFileOptions extends FederatedTokenOptions {
  /** Where to write the token. Defaults to a file in the emulator's temporary directory (removed on close). */
  readonly path?: string;
}

/** Options of `emulator.writeClientCertificate`. */
export interface ClientCertificateFileOptions {
  /** The service principal (by name). Defaults as in {@link FederatedTokenOptions.identity}. */
  readonly identity?: string;
  /** Where to write the PEM. Defaults to a file in the emulator's temporary directory (removed on close). */
  readonly path?: string;
}

/** What the emulator needs for service principals: the authority, the proxy and the credential files. */
export interface ServicePrincipalSupport {
  readonly authority: EntraAuthority;
  readonly proxy?: DiscoveryProxy;
  /** The `env` sources when the default identity is a service principal. */
  readonly envSources?: ServicePrincipalEnvSources;
  mintFederatedToken(options?: FederatedTokenOptions): string;
  writeFederatedTokenFile(options?: FederatedTokenFileOptions): Promise<string>;
  writeClientCertificate(options?: ClientCertificateFileOptions): Promise<string>;
  close(): Promise<void>;
}

/** How long a federated token file the emulator keeps fresh is valid, as an AKS projected token. */
const FEDERATED_TOKEN_FILE_LIFETIME_IN_SECONDS = 3600;

/**
 * Starts the Entra authority and (when the emulator generated its CA) the instance-discovery proxy,
 * and, for a service-principal default identity, writes the credential file `env` names (a
 * certificate, or a federated token it rewrites at 80% of its lifetime, as the kubelet does).
 */
export async function startServicePrincipalSupport(options: {
  readonly host: string;
  readonly port?: number;
  readonly tls: EmulatorTls;
  readonly tenantId: string;
  readonly issuer: TokenIssuer;
  readonly identities: readonly EmulatedIdentity[];
  readonly control: TokenRequestControl;
  readonly tokenLifetimeInSeconds: () => number;
  readonly now: () => number;
  /** The emulator's temporary directory (removed on close). */
  readonly directory: string;
  readonly credential: ServicePrincipalCredential;
}): Promise<ServicePrincipalSupport> {
  const { identities, now, directory } = options;
  const closers: Array<() => Promise<void>> = [];
  const close = async () => {
    for (const closer of closers.splice(0).reverse()) await closer().catch(() => undefined);
  };
  try {
    const authority = await startEntraAuthority({
      host: options.host,
      port: options.port,
      tls: options.tls,
      tenantId: options.tenantId,
      issuer: options.issuer,
      identities,
      federated: (url) => createFederatedTokenIssuer({ url, now }),
      control: options.control,
      tokenLifetimeInSeconds: options.tokenLifetimeInSeconds,
      now,
    });
    closers.push(() => authority.close());

    let proxy: DiscoveryProxy | undefined;
    if (options.tls.issue) {
      const certificate = await options.tls.issue([INSTANCE_DISCOVERY_HOST]);
      proxy = await startDiscoveryProxy({ host: options.host, certificate, authority });
      closers.push(() => (proxy as DiscoveryProxy).close());
    }

    const servicePrincipal = (name: string | undefined): EmulatedIdentity => {
      const principals = identities.filter((identity) => identity.kind === "servicePrincipal");
      const found =
        name === undefined ? principals[0] : principals.find((identity) => identity.name === name);
      if (!found) {
        throw new TypeError(
          name === undefined
            ? 'The emulator has no service principal: add { name, kind: "servicePrincipal" } to identities.'
            : `No service principal named "${name}".`,
        );
      }
      return found;
    };

    const mintFederatedToken = (mint: FederatedTokenOptions = {}): string => {
      const needsPrincipal = mint.subject === undefined || mint.audience === undefined;
      const credential = needsPrincipal
        ? servicePrincipal(mint.identity).federatedCredentials?.[0]
        : undefined;
      const subject =
        mint.subject ?? credential?.subject ?? defaultFederatedSubject(servicePrincipal(mint.identity).name);
      const lifetimeInSeconds = mint.lifetimeInSeconds ?? FEDERATED_TOKEN_FILE_LIFETIME_IN_SECONDS;
      const nowSeconds = Math.floor(now() / 1000);
      return authority.federated.mint({
        subject,
        audience: mint.audience ?? credential?.audiences,
        lifetimeInSeconds,
        issuedAt: mint.expired ? nowSeconds - lifetimeInSeconds - 600 : undefined,
        issuer: mint.issuer,
        signature: mint.signature,
        claims: mint.claims,
      });
    };

    const slug = (name: string) => name.toLowerCase().replace(/[^a-z0-9.-]+/g, "-");
    const writeFederatedTokenFile = async (file: FederatedTokenFileOptions = {}): Promise<string> => {
      const token = mintFederatedToken(file);
      const name = file.identity ?? servicePrincipal(undefined).name;
      const path = file.path ?? join(directory, `${slug(name)}-federated-token`);
      await writeFile(path, token, { mode: 0o600 });
      return path;
    };

    const certificates = new Map<string, Promise<{ key: string; cert: string }>>();
    const writeClientCertificate = async (file: ClientCertificateFileOptions = {}): Promise<string> => {
      const identity = servicePrincipal(file.identity);
      let pending = certificates.get(identity.name);
      if (!pending) {
        pending = createClientCertificate({ subject: identity.name, now }).then((certificate) => {
          authority.registerCertificate(identity.name, certificate.cert);
          return certificate;
        });
        certificates.set(identity.name, pending);
      }
      const { key, cert } = await pending;
      const path = file.path ?? join(directory, `${slug(identity.name)}-client-certificate.pem`);
      await writeFile(path, `${key}${cert}`, { mode: 0o600 });
      return path;
    };

    const defaultIdentity = identities[0];
    let envSources: ServicePrincipalEnvSources | undefined;
    if (defaultIdentity?.kind === "servicePrincipal") {
      const base = {
        authorityHost: authority.url,
        tenantId: options.tenantId,
        discoveryProxy: proxy?.url,
      };
      if (options.credential === "certificate") {
        const path = await writeClientCertificate({ identity: defaultIdentity.name });
        envSources = { ...base, credential: { kind: "certificate", path } };
      } else if (options.credential === "workloadIdentity") {
        const write = () =>
          writeFederatedTokenFile({
            identity: defaultIdentity.name,
            lifetimeInSeconds: FEDERATED_TOKEN_FILE_LIFETIME_IN_SECONDS,
          });
        const path = await write();
        // Rewrite it before it expires, as the kubelet rotates a projected service account token.
        const timer = setInterval(
          () => void write().catch(() => undefined),
          FEDERATED_TOKEN_FILE_LIFETIME_IN_SECONDS * 800,
        );
        timer.unref();
        closers.push(async () => clearInterval(timer));
        envSources = { ...base, credential: { kind: "workloadIdentity", path } };
      } else {
        envSources = { ...base, credential: { kind: "secret" } };
      }
    }

    return {
      authority,
      proxy,
      envSources,
      mintFederatedToken,
      writeFederatedTokenFile,
      writeClientCertificate,
      close,
    };
  } catch (error) {
    await close();
    throw error;
  }
}

import {
  AzureCliCredential,
  AzureDeveloperCliCredential,
  AzurePowerShellCredential,
  EnvironmentCredential,
  ManagedIdentityCredential,
  type ManagedIdentityCredentialClientIdOptions,
  type TokenCredential,
  WorkloadIdentityCredential,
} from "@azure/identity";
import type { CreateCredentialOptions, NamedCredential } from "../cli-io.js";

type Env = Readonly<Record<string, string | undefined>>;

const PROD = ["EnvironmentCredential", "WorkloadIdentityCredential", "ManagedIdentityCredential"];
const DEV = ["AzureCliCredential", "AzurePowerShellCredential", "AzureDeveloperCliCredential"];

/** The credential names `AZURE_TOKEN_CREDENTIALS` may pin, as `DefaultAzureCredential` spells them. */
const PINNABLE = [...PROD, ...DEV];

/**
 * Which credentials `DefaultAzureCredential` tries for an `AZURE_TOKEN_CREDENTIALS` value, in
 * order (the doctor tries the same ones; the Visual Studio Code and broker credentials are left
 * out). `"dev"`, `"prod"` or one credential name (case-insensitive) narrow the chain.
 *
 * @example
 * ```ts
 * credentialNamesFor("ManagedIdentityCredential"); // ["ManagedIdentityCredential"]
 * ```
 *
 * An unset or empty value gives the full chain; an invalid value gives an `Error`
 * (`DefaultAzureCredential` throws then).
 */
export function credentialNamesFor(value: string | undefined): string[] | Error {
  const wanted = value?.trim().toLowerCase();
  if (!wanted) return [...PROD, ...DEV];
  if (wanted === "prod") return [...PROD];
  if (wanted === "dev") return [...DEV];
  const pinned = PINNABLE.find((name) => name.toLowerCase() === wanted);
  if (pinned) return [pinned];
  return new Error(
    `Invalid AZURE_TOKEN_CREDENTIALS "${value}": DefaultAzureCredential accepts dev, prod or one of ${PINNABLE.join(", ")}.`,
  );
}

function construct(name: string, clientId: string | undefined, pinned: boolean): TokenCredential {
  switch (name) {
    case "EnvironmentCredential":
      return new EnvironmentCredential();
    case "WorkloadIdentityCredential":
      return new WorkloadIdentityCredential(clientId ? { clientId } : {});
    case "ManagedIdentityCredential":
      // Inside the default chain DefaultAzureCredential probes IMDS briefly first; pinned, it does not.
      return new ManagedIdentityCredential({
        ...(clientId ? { clientId } : {}),
        sendProbeRequest: !pinned,
      } as unknown as ManagedIdentityCredentialClientIdOptions);
    case "AzureCliCredential":
      return new AzureCliCredential();
    case "AzurePowerShellCredential":
      return new AzurePowerShellCredential();
    default:
      return new AzureDeveloperCliCredential();
  }
}

/**
 * The credentials `doctor` tries, built one by one so it can tell which link of the
 * `DefaultAzureCredential` chain works: honours `AZURE_TOKEN_CREDENTIALS` and passes the client
 * ID (else `AZURE_CLIENT_ID`) to the managed identity and workload identity credentials. Returns
 * the `Error` of {@link credentialNamesFor} for an invalid `AZURE_TOKEN_CREDENTIALS`; a credential
 * that cannot be constructed is listed with its error.
 */
export function createCredentialChain(env: Env, options: CreateCredentialOptions): NamedCredential[] | Error {
  const names = credentialNamesFor(env.AZURE_TOKEN_CREDENTIALS);
  if (names instanceof Error) return names;
  const clientId = options.clientId ?? (env.AZURE_CLIENT_ID || undefined);
  const pinned = names.length === 1;
  return names.map((name) => {
    try {
      return { name, credential: construct(name, clientId, pinned) };
    } catch (error) {
      return { name, credential: error instanceof Error ? error : new Error(String(error)) };
    }
  });
}

import type { TokenCredential } from "@azure/identity";
import { AzureCliCredential, DefaultAzureCredential } from "@azure/identity";
import { entraTokenProvider } from "@azure/postgresql-auth";
import { withEntra } from "@org/pg-entra";
import type pg from "pg";

/** How a pg client gets its password (`direct`: no gateway, the backend's own login over plain TCP). */
export type Approach = "static" | "direct" | "staticFn" | "ours" | "naive" | "ms";
/** Which credential supplies tokens: managed identity (emulator env) or the Azure CLI (fake `az`). */
export type CredentialKind = "mi" | "az";

export const APPROACH_LABELS: Readonly<Record<Approach, string>> = {
  static: "static token string",
  direct: "static password, direct to PostgreSQL",
  staticFn: "static token via async function",
  ours: "@org/pg-entra withEntra",
  naive: "naive getToken per connection",
  ms: "@azure/postgresql-auth",
};

export const PG_SCOPE = "https://ossrdbms-aad.database.windows.net/.default";

/** Variables the parent hands every worker (besides the emulator's own `env`). */
export const STATIC_TOKEN_VARIABLE = "BENCH_STATIC_TOKEN";
/** The backend's own URL (plain TCP, its own login), for the `direct` baseline. */
export const DIRECT_URL_VARIABLE = "BENCH_DIRECT_POSTGRES_URL";

/** `DefaultAzureCredential` (pinned to managed identity by the emulator env) or `AzureCliCredential`. */
export function createCredential(kind: CredentialKind): TokenCredential {
  return kind === "az" ? new AzureCliCredential() : new DefaultAzureCredential();
}

/** The gateway's address and login from the emulator env, the same for every approach. */
export function gatewayConfig(): pg.ClientConfig {
  const env = process.env;
  return {
    host: env.AZURE_POSTGRESQL_HOST,
    port: Number(env.AZURE_POSTGRESQL_PORT),
    database: env.AZURE_POSTGRESQL_DATABASE,
    user: env.AZURE_POSTGRESQL_USER,
    ssl: true, // verified against NODE_EXTRA_CA_CERTS (the emulator's CA)
  };
}

/**
 * A pg client config for one approach, built once per worker process:
 * - `static`: a token minted once by the emulator (1 h), passed as a plain string (the baseline);
 * - `direct`: straight to the backend, no gateway, plain TCP, the backend's own login (the floor);
 * - `staticFn`: the same static token, but from `password: async () => token` (pg's function path);
 * - `ours`: `withEntra` (the default `DefaultAzureCredential` for `mi`, `AzureCliCredential` for `az`);
 * - `naive`: `password: async () => (await credential.getToken(scope)).token`;
 * - `ms`: Microsoft's `entraTokenProvider(credential)`, which is the same per-connection call.
 */
export function pgConfigFor(approach: Approach, credentialKind: CredentialKind): pg.ClientConfig {
  const base = gatewayConfig();
  switch (approach) {
    case "static": {
      const token = process.env[STATIC_TOKEN_VARIABLE];
      if (!token) throw new Error(`${STATIC_TOKEN_VARIABLE} is not set`);
      return { ...base, password: token };
    }
    case "staticFn": {
      const token = process.env[STATIC_TOKEN_VARIABLE];
      if (!token) throw new Error(`${STATIC_TOKEN_VARIABLE} is not set`);
      return { ...base, password: async () => token };
    }
    case "direct": {
      const url = process.env[DIRECT_URL_VARIABLE];
      if (!url) throw new Error(`${DIRECT_URL_VARIABLE} is not set`);
      return { connectionString: url };
    }
    case "ours":
      return withEntra(base, credentialKind === "az" ? { credential: createCredential("az") } : {});
    case "naive": {
      const credential = createCredential(credentialKind);
      return {
        ...base,
        password: async () => {
          const accessToken = await credential.getToken(PG_SCOPE);
          if (!accessToken) throw new Error("no token");
          return accessToken.token;
        },
      };
    }
    case "ms":
      return { ...base, password: entraTokenProvider(createCredential(credentialKind)) };
  }
}

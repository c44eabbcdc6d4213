import type { AccessToken, TokenCredential } from "@azure/identity";
import { type Emulator, type EmulatorOptions, startEmulator } from "@org/entra-emulator";

/** An emulator in front of the local servers, and a credential that mints its tokens. */
export interface ProxyFixture {
  readonly emulator: Emulator;
  /** Mints a token of the emulator's default identity per call, for `audience`; counts the calls. */
  readonly credential: TokenCredential & { readonly calls: number };
  close(): Promise<void>;
}

/** The local servers the proxy's tests reach through the emulator's gateways. */
export const LOCAL_BACKENDS = {
  postgres: "postgres://postgres@127.0.0.1:5432/test",
  mysql: "mysql://root@127.0.0.1:3306/test",
} as const;

/**
 * Starts an emulator with the given engines and a credential minting its tokens (for the SQL
 * audience when `audience` is `sql`), as a real credential would fetch them from the identity endpoint.
 */
export async function startProxyFixture(
  options: EmulatorOptions,
  audience: "ossrdbms" | "sql" = "ossrdbms",
): Promise<ProxyFixture> {
  const emulator = await startEmulator(options);
  let calls = 0;
  const credential = {
    get calls() {
      return calls;
    },
    async getToken(): Promise<AccessToken> {
      calls += 1;
      const token = emulator.mintToken({
        lifetimeInSeconds: 3600,
        ...(audience === "sql" ? { audience: "https://database.windows.net" } : {}),
      });
      return { token, expiresOnTimestamp: Date.now() + 3_600_000 };
    },
  };
  return { emulator, credential, close: () => emulator.close() };
}

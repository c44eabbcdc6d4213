import { execFile } from "node:child_process";
import { readFile, writeFile } from "node:fs/promises";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { describe, expect, it } from "vitest";
import { type Emulator, startEmulator } from "./start-emulator.js";
import { createClientCertificate } from "./tls-authority.js";
import { validateToken } from "./token-validation.js";

const packageDirectory = resolve(dirname(fileURLToPath(import.meta.url)), "..");
const resource = "https://ossrdbms-aad.database.windows.net";
const scope = `${resource}/.default`;

/**
 * One real `@azure/identity` credential, built as an app builds it: from the environment, or with the
 * arguments a user passes (tenant, client id, secret / certificate path / token file).
 */
type Scenario = (
  | { readonly type: "DefaultAzureCredential" | "EnvironmentCredential" | "WorkloadIdentityCredential" }
  | { readonly type: "ClientSecretCredential"; readonly clientId: string; readonly secret: string }
  | {
      readonly type: "ClientSecretCredential";
      readonly clientId: string;
      readonly secret: string;
      /** What a user of a private cloud sets instead of letting MSAL validate the authority. */
      readonly disableInstanceDiscovery: true;
    }
  | { readonly type: "ClientCertificateCredential"; readonly clientId: string; readonly path: string }
  | {
      readonly type: "WorkloadIdentityCredential";
      readonly tokenFilePath: string;
      readonly clientId?: string;
    }
) & {
  /** Variables to set (or, with null, unset) before the credential is built. */
  readonly env?: Readonly<Record<string, string | null>>;
};

interface Outcome {
  readonly ok: boolean;
  readonly token?: string;
  readonly expiresOnTimestamp?: number;
  readonly name?: string;
  readonly message?: string;
}

// Each scenario builds its own credential (and so its own MSAL app) in a fresh child process that
// gets the emulator's env, as an app would: NODE_EXTRA_CA_CERTS makes it trust the emulator's CA
// (Node reads it at start), HTTPS_PROXY/NO_PROXY route MSAL's instance discovery to the emulator.
const script = `
const identity = await import("@azure/identity");
const results = [];
for (const s of JSON.parse(process.env.TEST_SCENARIOS)) {
  for (const [key, value] of Object.entries(s.env ?? {})) {
    if (value === null) delete process.env[key];
    else process.env[key] = value;
  }
  try {
    const tenantId = process.env.AZURE_TENANT_ID;
    const credential =
      s.type === "ClientSecretCredential" && s.disableInstanceDiscovery
        ? new identity.ClientSecretCredential(tenantId, s.clientId, s.secret, { disableInstanceDiscovery: true })
        : s.type === "ClientSecretCredential"
          ? new identity.ClientSecretCredential(tenantId, s.clientId, s.secret)
          : s.type === "ClientCertificateCredential"
            ? new identity.ClientCertificateCredential(tenantId, s.clientId, s.path)
            : s.type === "WorkloadIdentityCredential" && s.tokenFilePath
              ? new identity.WorkloadIdentityCredential({ tokenFilePath: s.tokenFilePath, clientId: s.clientId })
              : new identity[s.type]();
    const token = await credential.getToken(${JSON.stringify(scope)});
    results.push({ ok: true, token: token.token, expiresOnTimestamp: token.expiresOnTimestamp });
  } catch (error) {
    results.push({ ok: false, name: error.name, message: String(error.message) });
  }
}
process.stdout.write(JSON.stringify(results));
`;

const inheritedAzureVariables = /^(AZURE_|MSI_|IDENTITY_|IMDS_|HTTPS?_PROXY$|NO_PROXY$|ALL_PROXY$)/i;

async function run(
  env: Readonly<Record<string, string | undefined>>,
  scenarios: readonly Scenario[],
): Promise<Outcome[]> {
  const base = Object.fromEntries(
    Object.entries(process.env).filter(([key]) => !inheritedAzureVariables.test(key)),
  );
  const { stdout } = await promisify(execFile)(process.execPath, ["--input-type=module", "-e", script], {
    cwd: packageDirectory,
    env: { ...base, ...env, TEST_SCENARIOS: JSON.stringify(scenarios) },
    timeout: 60_000,
  });
  return JSON.parse(stdout) as Outcome[];
}

function claimsOf(token: string | undefined): Record<string, unknown> {
  return JSON.parse(Buffer.from(String(token).split(".")[1] ?? "", "base64url").toString());
}

function expectAppToken(emulator: Emulator, outcome: Outcome | undefined, appidacr: "1" | "2") {
  expect(outcome, JSON.stringify(outcome)).toMatchObject({ ok: true });
  const sp = emulator.identities[0];
  const result = validateToken(outcome?.token as string, {
    audiences: [resource],
    tenantId: emulator.tenantId,
    jwks: emulator.jwks,
  });
  // An app token names no principal: the database finds the service principal by its ids.
  expect(result).toMatchObject({ ok: true, principalName: undefined });
  const claims = claimsOf(outcome?.token);
  expect(claims).toMatchObject({
    aud: resource,
    iss: `https://sts.windows.net/${emulator.tenantId}/`,
    appid: sp?.clientId,
    appidacr,
    oid: sp?.objectId,
    sub: sp?.objectId,
    idtyp: "app",
    tid: emulator.tenantId,
    ver: "1.0",
  });
  for (const absent of ["upn", "xms_mirid", "preferred_username", "unique_name", "app_displayname"]) {
    expect(claims).not.toHaveProperty(absent);
  }
  expect(Math.abs((outcome?.expiresOnTimestamp ?? 0) - (Date.now() + 3600_000))).toBeLessThan(60_000);
}

describe("the real @azure/identity against the Entra authority", () => {
  it("ClientSecretCredential and DefaultAzureCredential's environment link get app tokens (client secret)", async () => {
    await using emulator = await startEmulator({
      postgres: false,
      identities: [{ name: "orders-api", kind: "servicePrincipal" }],
    });
    const sp = emulator.identities[0];
    expect(emulator.env).toEqual({
      AZURE_TOKEN_CREDENTIALS: "EnvironmentCredential",
      NODE_EXTRA_CA_CERTS: expect.any(String),
      AZURE_AUTHORITY_HOST: emulator.authorityHost,
      AZURE_TENANT_ID: emulator.tenantId,
      AZURE_CLIENT_ID: sp?.clientId,
      AZURE_CLIENT_SECRET: sp?.clientSecret,
      HTTPS_PROXY: emulator.discoveryProxy,
      NO_PROXY: "localhost,127.0.0.1",
    });
    const { AZURE_TOKEN_CREDENTIALS: _pinned, ...withoutPin } = emulator.env;
    const [secret, chained, environment] = await run(emulator.env, [
      {
        type: "ClientSecretCredential",
        clientId: sp?.clientId as string,
        secret: sp?.clientSecret as string,
      },
      { type: "DefaultAzureCredential" },
      { type: "EnvironmentCredential" },
    ]);
    expectAppToken(emulator, secret, "1");
    expectAppToken(emulator, chained, "1");
    expectAppToken(emulator, environment, "1");
    // Unpinned, DefaultAzureCredential tries its environment link first.
    const [unpinned] = await run(withoutPin, [{ type: "DefaultAzureCredential" }]);
    expectAppToken(emulator, unpinned, "1");
    // Token requests are counted, the discovery documents are not.
    expect(emulator.counters.tokenRequestsByProtocol).toEqual({ appService: 0, imds: 0, entra: 4 });
    expect(emulator.counters.tokenRequestsByIdentity).toEqual({ "orders-api": 4 });
    expect(emulator.counters.tokenRequestsByOutcome.issued).toBe(4);
  }, 120_000);

  it("ClientCertificateCredential and the environment link sign a certificate assertion the authority verifies", async () => {
    await using emulator = await startEmulator({
      postgres: false,
      identities: [{ name: "orders-api", kind: "servicePrincipal" }],
      servicePrincipalCredential: "certificate",
    });
    const sp = emulator.identities[0];
    const path = emulator.env.AZURE_CLIENT_CERTIFICATE_PATH as string;
    expect(emulator.env).not.toHaveProperty("AZURE_CLIENT_SECRET");
    const [certificate, chained] = await run(emulator.env, [
      { type: "ClientCertificateCredential", clientId: sp?.clientId as string, path },
      { type: "DefaultAzureCredential" },
    ]);
    expectAppToken(emulator, certificate, "2");
    expectAppToken(emulator, chained, "2");
  }, 120_000);

  it("WorkloadIdentityCredential and DefaultAzureCredential exchange the federated token file", async () => {
    await using emulator = await startEmulator({
      postgres: false,
      identities: [{ name: "orders-api", kind: "servicePrincipal" }],
      servicePrincipalCredential: "workloadIdentity",
    });
    expect(emulator.env).toMatchObject({
      AZURE_TOKEN_CREDENTIALS: "WorkloadIdentityCredential",
      AZURE_FEDERATED_TOKEN_FILE: expect.any(String),
    });
    const [workload, chained] = await run(emulator.env, [
      { type: "WorkloadIdentityCredential" },
      { type: "DefaultAzureCredential" },
    ]);
    expectAppToken(emulator, workload, "2");
    expectAppToken(emulator, chained, "2");
    // The file holds a Kubernetes-shaped token of the emulator's OIDC issuer.
    const file = await readFile(emulator.env.AZURE_FEDERATED_TOKEN_FILE as string, "utf8");
    expect(claimsOf(file)).toMatchObject({
      iss: emulator.oidcIssuer,
      sub: "system:serviceaccount:default:orders-api",
      aud: ["api://AzureADTokenExchange"],
    });
  }, 120_000);

  it("refuses wrong clients with Entra's errors, which @azure/identity surfaces", async () => {
    await using emulator = await startEmulator({
      postgres: false,
      identities: [
        { name: "orders-api", kind: "servicePrincipal" },
        { name: "billing-api", kind: "servicePrincipal", federatedCredentials: [] },
      ],
    });
    const [sp, billing] = emulator.identities;
    const clientId = sp?.clientId as string;
    const directory = dirname(emulator.env.NODE_EXTRA_CA_CERTS);
    const tokenFile = (name: string, options: Parameters<Emulator["writeFederatedTokenFile"]>[0]) =>
      emulator.writeFederatedTokenFile({ identity: "orders-api", ...options, path: join(directory, name) });
    // A certificate the app registration does not hold.
    const stranger = await createClientCertificate({ subject: "orders-api" });
    const strangerPath = join(directory, "stranger.pem");
    await writeFile(strangerPath, stranger.key + stranger.cert);
    const workload = async (name: string, options: Parameters<Emulator["writeFederatedTokenFile"]>[0]) => ({
      type: "WorkloadIdentityCredential" as const,
      tokenFilePath: await tokenFile(name, options),
    });

    const cases: Array<[string, Scenario]> = [
      ["7000215", { type: "ClientSecretCredential", clientId, secret: "not-the-secret" }],
      [
        "700016",
        { type: "ClientSecretCredential", clientId: "00000000-0000-4000-8000-000000000bad", secret: "x" },
      ],
      ["7000215", { type: "EnvironmentCredential" }], // AZURE_CLIENT_SECRET is wrong below
      ["700027", { type: "ClientCertificateCredential", clientId, path: strangerPath }],
      ["700024", await workload("expired", { expired: true })],
      ["700212", await workload("audience", { audience: "api://other" })],
      ["700027", await workload("unsigned", { signature: "none" })],
      ["700027", await workload("bad-signature", { signature: "bad" })],
      ["700213", await workload("subject", { subject: "repo:org/other:ref:refs/heads/main" })],
      ["700211", await workload("issuer", { issuer: "https://token.actions.githubusercontent.com" })],
      // billing-api has no federated credential: no record matches the issuer.
      ["700211", { ...(await workload("billing", {})), clientId: billing?.clientId as string }],
      // DefaultAzureCredential: its environment link stops the chain with an AuthenticationError...
      ["7000215", { type: "DefaultAzureCredential" }],
      // ...its workload-identity link passes the error on, and the chain aggregates it.
      [
        "700024",
        {
          type: "DefaultAzureCredential",
          env: {
            AZURE_TOKEN_CREDENTIALS: "WorkloadIdentityCredential",
            AZURE_CLIENT_SECRET: null,
            AZURE_FEDERATED_TOKEN_FILE: await tokenFile("chained-expired", { expired: true }),
          },
        },
      ],
    ];
    const outcomes = await run(
      { ...emulator.env, AZURE_CLIENT_ID: clientId, AZURE_CLIENT_SECRET: "not-the-secret" },
      cases.map(([, scenario]) => scenario),
    );
    expect(outcomes.map((outcome) => outcome.ok)).toEqual(cases.map(() => false));
    expect(outcomes.map((outcome) => /AADSTS(\d+)/.exec(outcome.message ?? "")?.[1])).toEqual(
      cases.map(([code]) => code),
    );
    expect(outcomes[0]?.message).toContain("invalid_client");
    expect(outcomes[1]?.message).toContain("unauthorized_client");
    // ClientSecretCredential passes MSAL's ServerError on as an AuthenticationRequiredError;
    // EnvironmentCredential (DefaultAzureCredential's env link) wraps it in an AuthenticationError.
    expect(outcomes[0]?.name).toBe("AuthenticationRequiredError");
    expect(outcomes[2]?.name).toBe("AuthenticationError");
    expect(outcomes[11]?.name).toBe("AuthenticationError");
    expect(outcomes[12]?.name).toBe("AggregateAuthenticationError");
    expect(emulator.counters.tokenRequestsByOutcome).toMatchObject({ issued: 0, rejected: cases.length });
    expect(emulator.counters.tokenRequestsByProtocol.entra).toBe(cases.length);
  }, 120_000);

  it("without the proxy, a credential made with disableInstanceDiscovery still signs in", async () => {
    await using emulator = await startEmulator({
      postgres: false,
      identities: [{ name: "orders-api", kind: "servicePrincipal" }],
    });
    const sp = emulator.identities[0];
    const { HTTPS_PROXY: _proxy, NO_PROXY: _noProxy, ...direct } = emulator.env;
    const [outcome] = await run(direct, [
      {
        type: "ClientSecretCredential",
        clientId: sp?.clientId as string,
        secret: sp?.clientSecret as string,
        disableInstanceDiscovery: true,
      },
    ]);
    expectAppToken(emulator, outcome, "1");
  }, 120_000);
});

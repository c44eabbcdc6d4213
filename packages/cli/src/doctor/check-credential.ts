import type { AccessToken } from "@azure/identity";
import type { NamedCredential } from "../cli-io.js";
import type { Check } from "./check.js";

/** How one credential of the chain did. */
export interface CredentialAttempt {
  readonly credential: string;
  /** `unavailable` lets the chain go on; `failed` and `timeout` stop `DefaultAzureCredential` there. */
  readonly status: "ok" | "unavailable" | "failed" | "timeout" | "not tried";
  readonly message?: string;
}

/** What {@link checkCredential} found. */
export interface CredentialResult {
  readonly check: Check;
  /** The token of the first credential that produced one. */
  readonly accessToken?: AccessToken | undefined;
  readonly credentialName?: string | undefined;
}

function shorten(message: string): string {
  const oneLine = message.replace(/\s+/g, " ").trim();
  return oneLine.length > 400 ? `${oneLine.slice(0, 397)}...` : oneLine;
}

async function tryCredential(
  entry: NamedCredential,
  scope: string,
  timeoutInMs: number,
): Promise<{ attempt: CredentialAttempt; token?: AccessToken }> {
  const { name, credential } = entry;
  if (credential instanceof Error) {
    return { attempt: { credential: name, status: "unavailable", message: shorten(credential.message) } };
  }
  const controller = new AbortController();
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<"timeout">((resolve) => {
    timer = setTimeout(() => {
      controller.abort();
      resolve("timeout");
    }, timeoutInMs);
    timer.unref();
  });
  try {
    const result = await Promise.race([
      credential.getToken(scope, { abortSignal: controller.signal }),
      timeout,
    ]);
    if (result === "timeout") {
      return {
        attempt: { credential: name, status: "timeout", message: `no answer within ${timeoutInMs / 1000} s` },
      };
    }
    if (!result?.token) {
      return { attempt: { credential: name, status: "failed", message: "returned no token" } };
    }
    return { attempt: { credential: name, status: "ok" }, token: result };
  } catch (error) {
    const err = error instanceof Error ? error : new Error(String(error));
    const unavailable = err.name === "CredentialUnavailableError";
    return {
      attempt: {
        credential: name,
        status: unavailable ? "unavailable" : "failed",
        message: shorten(err.message),
      },
    };
  } finally {
    clearTimeout(timer);
  }
}

const FIX_BY_CREDENTIAL: Readonly<Record<string, string>> = {
  EnvironmentCredential:
    "set AZURE_TENANT_ID, AZURE_CLIENT_ID and AZURE_CLIENT_SECRET (or AZURE_CLIENT_CERTIFICATE_PATH) for a service principal",
  WorkloadIdentityCredential:
    "on AKS enable workload identity (AZURE_FEDERATED_TOKEN_FILE, AZURE_CLIENT_ID, AZURE_TENANT_ID are injected)",
  ManagedIdentityCredential:
    "on Azure enable the system-assigned identity or assign the user-assigned one to this resource and pass --client-id (or set *_CLIENTID); check IDENTITY_ENDPOINT / IMDS is reachable",
  AzureCliCredential: "locally run `az login` (az must be on PATH)",
  AzurePowerShellCredential: "run Connect-AzAccount in PowerShell",
  AzureDeveloperCliCredential: "run `azd auth login`",
};

/**
 * The `credential` check: tries each credential of the chain in order, each within the timeout,
 * and stops at the first token (or, like `DefaultAzureCredential`, at the first failure that is
 * not "unavailable"). Reports for each why it failed or that it produced the token. Fails when
 * no credential produced a token, and for a `chain` that is an `Error` (an invalid
 * `AZURE_TOKEN_CREDENTIALS`).
 */
export async function checkCredential(
  chain: NamedCredential[] | Error,
  scope: string,
  timeoutInMs: number,
): Promise<CredentialResult> {
  if (chain instanceof Error) {
    return {
      check: {
        name: "credential",
        status: "fail",
        detail: "AZURE_TOKEN_CREDENTIALS is invalid",
        cause: chain.message,
        fix: "Unset AZURE_TOKEN_CREDENTIALS or set it to dev, prod or one credential name (e.g. ManagedIdentityCredential).",
      },
    };
  }
  const attempts: CredentialAttempt[] = [];
  let found: { name: string; token: AccessToken } | undefined;
  let stopped = false;
  for (const entry of chain) {
    if (found || stopped) {
      attempts.push({ credential: entry.name, status: "not tried" });
      continue;
    }
    const { attempt, token } = await tryCredential(entry, scope, timeoutInMs);
    attempts.push(attempt);
    if (token) found = { name: entry.name, token };
    else if (attempt.status !== "unavailable") stopped = true;
  }
  const tried = attempts.filter((a) => a.status !== "not tried" && a.status !== "ok");
  const summary = tried.map((a) => `${a.credential}: ${a.status}`).join("; ");
  if (found) {
    return {
      check: {
        name: "credential",
        status: "ok",
        detail: `${found.name} produced a token for ${scope}${summary ? ` (before it: ${summary})` : ""}`,
        data: { credential: found.name, scope, attempts },
      },
      accessToken: found.token,
      credentialName: found.name,
    };
  }
  const last = tried.at(-1);
  const fixes = tried.map((a) => FIX_BY_CREDENTIAL[a.credential]).filter(Boolean);
  return {
    check: {
      name: "credential",
      status: "fail",
      detail: `no credential produced a token for ${scope}: ${tried.map((a) => `${a.credential} ${a.status}${a.message ? ` (${a.message})` : ""}`).join("; ")}`,
      cause:
        last?.status === "timeout"
          ? `${last.credential} did not answer in time (endpoint down or unreachable).`
          : last?.status === "failed"
            ? `${last.credential} failed (DefaultAzureCredential stops at such an error): ${last.message}`
            : "Every credential of the chain is unavailable in this environment.",
      fix: `${[...new Set(fixes)].join("; or ")}.`,
      data: { scope, attempts },
    },
  };
}

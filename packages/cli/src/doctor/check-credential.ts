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

type Env = Readonly<Record<string, string | undefined>>;

/** Where the doctor runs and who it runs as, for short reasons and the most likely fix. */
export interface CredentialContext {
  /** The environment (IDENTITY_ENDPOINT, AZURE_CLIENT_ID, ...). Defaults to none set. */
  readonly env?: Env | undefined;
  /** The user-assigned identity's client ID (`--client-id` or `*_CLIENTID`), if any. */
  readonly clientId?: string | undefined;
}

const NOT_INSTALLED =
  /could not be found|couldn't be found|not installed|Unable to execute|ENOENT|not recognized/i;

/** A message cut down to its first sentence, without links and troubleshooting advice, ≤ `max` characters. */
function compact(message: string, max = 120): string {
  const status = /Http status code: (\d{3})/i.exec(message)?.[1];
  let text = message
    .replace(/\s+/g, " ")
    .replace(/(To troubleshoot|See the troubleshooting|To mitigate)[^.]*\.?/gi, "")
    .replace(/https?:\/\/\S+/g, "")
    .replace(/^[A-Za-z]+Credential:\s*/, "")
    .trim();
  const first = /^(.+?[.!])(\s|$)/.exec(text)?.[1];
  // The first sentence, unless it says too little on its own ("Authentication failed.").
  if (first && first.length >= 40) text = first;
  if (status && !text.includes(status)) text = `${text.replace(/\.$/, "")} (HTTP ${status})`;
  return text.length > max ? `${text.slice(0, max - 3)}...` : text;
}

function missing(env: Env, names: readonly string[]): string[] {
  return names.filter((name) => !env[name]);
}

/** One short reason for an attempt, from what the environment lacks or the credential's message. */
export function shortReason(attempt: CredentialAttempt, context: CredentialContext = {}): string {
  const env = context.env ?? {};
  const message = attempt.message ?? "";
  if (attempt.status === "ok") return "produced the token";
  if (attempt.status === "not tried") return "not tried (DefaultAzureCredential stops earlier)";
  if (attempt.status === "timeout") return message || "no answer in time";
  if (attempt.status === "unavailable") {
    switch (attempt.credential) {
      case "EnvironmentCredential": {
        const lacking = missing(env, ["AZURE_TENANT_ID", "AZURE_CLIENT_ID"]);
        if (!env.AZURE_CLIENT_SECRET && !env.AZURE_CLIENT_CERTIFICATE_PATH && !env.AZURE_USERNAME) {
          lacking.push("AZURE_CLIENT_SECRET/AZURE_CLIENT_CERTIFICATE_PATH");
        }
        if (lacking.length) return `no service principal: ${lacking.join(", ")} not set`;
        break;
      }
      case "WorkloadIdentityCredential": {
        const lacking = missing(env, ["AZURE_FEDERATED_TOKEN_FILE", "AZURE_TENANT_ID"]);
        if (!context.clientId && !env.AZURE_CLIENT_ID) lacking.push("AZURE_CLIENT_ID");
        if (lacking.length) return `no AKS workload identity: ${lacking.join(", ")} not set`;
        break;
      }
      case "ManagedIdentityCredential":
        if (!env.IDENTITY_ENDPOINT && !env.MSI_ENDPOINT) {
          return "no IDENTITY_ENDPOINT/MSI_ENDPOINT and IMDS gave no token (not an Azure host?)";
        }
        break;
      case "AzureCliCredential":
        if (NOT_INSTALLED.test(message)) return "Azure CLI (az) not installed";
        if (/az login/i.test(message)) return "not signed in (az login)";
        break;
      case "AzurePowerShellCredential":
        if (NOT_INSTALLED.test(message)) return "PowerShell (pwsh) not installed";
        if (/Connect-AzAccount|Az\.Account/i.test(message)) return "not signed in (Connect-AzAccount)";
        break;
      case "AzureDeveloperCliCredential":
        if (NOT_INSTALLED.test(message)) return "Azure Developer CLI (azd) not installed";
        if (/azd auth login/i.test(message)) return "not signed in (azd auth login)";
        break;
    }
  }
  return compact(message) || attempt.status;
}

function fixFor(
  credential: string,
  attempts: readonly CredentialAttempt[],
  context: CredentialContext,
): string {
  const env = context.env ?? {};
  const attempt = attempts.find((a) => a.credential === credential);
  switch (credential) {
    case "ManagedIdentityCredential":
      if (attempt?.status === "timeout") {
        return `make the identity endpoint answer: ${env.IDENTITY_ENDPOINT ? `IDENTITY_ENDPOINT (${env.IDENTITY_ENDPOINT})` : "IMDS at 169.254.169.254"} must be reachable (no proxy in between)`;
      }
      return context.clientId
        ? `assign the user-assigned managed identity with client ID ${context.clientId} to this resource (or drop --client-id / *_CLIENTID to use the system-assigned identity)`
        : "enable the managed identity of this resource (App Service / Functions / Container Apps: Identity > System assigned > On), or assign a user-assigned one and pass its client ID with --client-id (or *_CLIENTID)";
    case "AzureCliCredential":
      if (attempt?.status === "failed")
        return "sign in again with `az login` (the session may have expired or be for another tenant)";
      return NOT_INSTALLED.test(attempt?.message ?? "")
        ? "install the Azure CLI (https://aka.ms/azure-cli) and sign in with `az login`"
        : "sign in with `az login`";
    case "AzureDeveloperCliCredential":
      return "sign in with `azd auth login` (Azure Developer CLI)";
    case "AzurePowerShellCredential":
      return "sign in with Connect-AzAccount in PowerShell";
    case "WorkloadIdentityCredential":
      return "on AKS enable workload identity for the pod (it injects AZURE_FEDERATED_TOKEN_FILE, AZURE_CLIENT_ID and AZURE_TENANT_ID)";
    default:
      return attempt?.status === "failed"
        ? "check the service principal's AZURE_CLIENT_SECRET or certificate (it may have expired) and AZURE_TENANT_ID"
        : "use a service principal: set AZURE_TENANT_ID, AZURE_CLIENT_ID and AZURE_CLIENT_SECRET (or AZURE_CLIENT_CERTIFICATE_PATH)";
  }
}

/** The credentials most likely meant to work here, most likely first. */
function likelyCredentials(env: Env): { where: string; ranked: string[] } {
  if (env.IDENTITY_ENDPOINT || env.MSI_ENDPOINT) {
    return {
      where: `IDENTITY_ENDPOINT is set (App Service, Functions or Container Apps): the managed identity should give the token`,
      ranked: ["ManagedIdentityCredential", "EnvironmentCredential", "WorkloadIdentityCredential"],
    };
  }
  if (env.AZURE_FEDERATED_TOKEN_FILE) {
    return {
      where: "AZURE_FEDERATED_TOKEN_FILE is set (AKS): workload identity should give the token",
      ranked: ["WorkloadIdentityCredential", "ManagedIdentityCredential", "EnvironmentCredential"],
    };
  }
  if (env.AZURE_CLIENT_SECRET || env.AZURE_CLIENT_CERTIFICATE_PATH) {
    return {
      where: "a service principal is configured (AZURE_CLIENT_SECRET / AZURE_CLIENT_CERTIFICATE_PATH)",
      ranked: ["EnvironmentCredential", "AzureCliCredential", "ManagedIdentityCredential"],
    };
  }
  return {
    where:
      "no managed identity here (no IDENTITY_ENDPOINT, no IMDS) and no developer sign-in: this looks like a machine outside Azure",
    ranked: [
      "AzureCliCredential",
      "AzureDeveloperCliCredential",
      "EnvironmentCredential",
      "AzurePowerShellCredential",
      "ManagedIdentityCredential",
      "WorkloadIdentityCredential",
    ],
  };
}

/**
 * The cause and the remedies of a chain that produced no token: the credential that stopped the
 * chain (a failure or a timeout), else the credential most likely meant to work in this
 * environment (managed identity where IDENTITY_ENDPOINT is set, `az login` on a developer
 * machine, ...) comes first, then at most two alternatives.
 */
export function adviseCredential(
  attempts: readonly CredentialAttempt[],
  context: CredentialContext = {},
): { cause: string; fix: string; alternatives: string[] } {
  const env = context.env ?? {};
  const tried = attempts.filter((a) => a.status !== "not tried" && a.status !== "ok");
  const names = new Set(tried.map((a) => a.credential));
  const { where, ranked } = likelyCredentials(env);
  const stopper = tried.find((a) => a.status === "failed" || a.status === "timeout");
  let cause: string;
  let order: string[];
  if (stopper) {
    cause =
      stopper.status === "timeout"
        ? `${stopper.credential} did not answer in time (endpoint down or unreachable).`
        : `${stopper.credential} failed (DefaultAzureCredential stops at such an error): ${compact(stopper.message ?? "", 200)}`;
    order = [stopper.credential, ...ranked];
  } else {
    cause = `Every credential of the chain is unavailable: ${where}.`;
    order = ranked;
  }
  const candidates = [...new Set([...order, ...tried.map((a) => a.credential)])].filter((name) =>
    names.has(name),
  );
  const remedies = candidates.map((name) => fixFor(name, attempts, context));
  if (
    env.AZURE_TOKEN_CREDENTIALS &&
    !names.has("AzureCliCredential") &&
    !stopper &&
    !(env.IDENTITY_ENDPOINT || env.MSI_ENDPOINT)
  ) {
    remedies.splice(
      1,
      0,
      `unset AZURE_TOKEN_CREDENTIALS (now "${env.AZURE_TOKEN_CREDENTIALS}") so the developer tools are tried, and sign in with \`az login\``,
    );
  }
  const [fix = "check the credential configuration", ...rest] = remedies;
  return { cause, fix, alternatives: rest.slice(0, 2) };
}

/**
 * The `credential` check: tries each credential of the chain in order, each within the timeout,
 * and stops at the first token (or, like `DefaultAzureCredential`, at the first failure that is
 * not "unavailable"). Reports one line per credential with its short reason (the full messages
 * are in `data.attempts`). Fails when no credential produced a token, with the most likely fix
 * first (see {@link adviseCredential}), and for a `chain` that is an `Error` (an invalid
 * `AZURE_TOKEN_CREDENTIALS`).
 */
export async function checkCredential(
  chain: NamedCredential[] | Error,
  scope: string,
  timeoutInMs: number,
  context: CredentialContext = {},
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
  const width = Math.max(0, ...attempts.map((a) => a.credential.length)) + 2;
  const lines = attempts.map(
    (a) =>
      `${a.credential.padEnd(width)}${a.status === "ok" || a.status === "not tried" ? shortReason(a, context) : `${a.status}: ${shortReason(a, context)}`}`,
  );
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
  const { cause, fix, alternatives } = adviseCredential(attempts, context);
  return {
    check: {
      name: "credential",
      status: "fail",
      detail: `no credential produced a token for ${scope}:`,
      lines,
      cause,
      fix: `${fix[0]?.toUpperCase()}${fix.slice(1)}.`,
      ...(alternatives.length ? { alternatives: alternatives.map((a) => `${a}.`) } : {}),
      data: { scope, attempts },
    },
  };
}

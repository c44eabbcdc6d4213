import { readFileSync } from "node:fs";
import { EntraAuthError, redactToken, resolveUsername } from "@org/entra-core";
import type { CliIo } from "./cli-io.js";
import { type CommandFlags, parseTimeout, type TARGET_OPTIONS } from "./command-options.js";
import { type Command, defineCommand } from "./define-command.js";
import type { Check } from "./doctor/check.js";
import { checkCredential } from "./doctor/check-credential.js";
import { checkLogin } from "./doctor/check-login.js";
import { checkNetwork } from "./doctor/check-network.js";
import { checkSettings } from "./doctor/check-settings.js";
import { checkToken } from "./doctor/check-token.js";
import { createCredentialChain } from "./doctor/credential-chain.js";
import { createReport, formatReport } from "./doctor/format-report.js";
import { resolveTarget, type Target } from "./resolve-target.js";

/** Usage of `entra-db doctor`. */
export const DOCTOR_USAGE = `Usage: entra-db doctor [--engine postgresql|mysql|sqlserver] [options]

Diagnoses a passwordless connection step by step. Never prints the token.

  settings    Service Connector variables found; malformed ones
  credential  which credential of the DefaultAzureCredential chain produced a token (and why
              the others did not); honours AZURE_TOKEN_CREDENTIALS
  token       audience, tenant, principal, idtyp, expiry, derived username; audience vs engine/cloud
  network     DNS, TCP, TLS handshake with certificate verification
  login       a real login through @org/pg-entra / @org/mysql2-entra (select current_user)

Options:
  -e, --engine <engine>   postgresql, mysql or sqlserver (default: the engine whose variables are set)
      --host, --port, -d/--database, -u/--user   Override the *_HOST/_PORT/_DATABASE/_USER variables
      --client-id <id>    Client ID of a user-assigned managed identity (default: *_CLIENTID)
      --scope <scope>     Token scope (default: chosen from the engine and host)
      --ca <file>         Trust this CA (PEM) for the TLS and login checks instead of Node's store
      --timeout <s>       Time limit per credential and per network step (default 10)
      --json              Print { ok, checks: [{ name, status, detail, cause?, fix? }] }
  -h, --help              Show this help

Exit code 0 when no check failed (warnings allowed), 1 otherwise.`;

const DOCTOR_OPTIONS = { json: { type: "boolean" }, ca: { type: "string" } } as const;

function skipped(name: string, reason: string): Check {
  return { name, status: "skip", detail: reason };
}

/**
 * `entra-db doctor`: runs the settings, credential, token, network and login checks and prints
 * them (or `--json`). Returns 1 when a check failed. `--timeout` limits each credential and each
 * network step; without it, 10 s.
 */
export const doctorCommand: Command = defineCommand({
  name: "doctor",
  usage: DOCTOR_USAGE,
  options: DOCTOR_OPTIONS,
  run: doctor,
});

async function doctor(
  flags: CommandFlags<typeof TARGET_OPTIONS & typeof DOCTOR_OPTIONS>,
  io: CliIo,
): Promise<number> {
  const timeoutInMs = parseTimeout(flags.timeout, 10_000);
  let ca: string | undefined;
  if (flags.ca) {
    try {
      ca = readFileSync(flags.ca, "utf8");
    } catch (error) {
      throw new EntraAuthError(
        "INVALID_SETTING",
        `Cannot read --ca ${flags.ca}: ${(error as Error).message}`,
      );
    }
  }
  const now = io.now ?? Date.now;
  const checks: Check[] = [];

  const settings = checkSettings(flags, io.env);
  checks.push(settings.check);
  if (!settings.engine) {
    for (const name of ["credential", "token", "network", "login"]) checks.push(skipped(name, "no engine"));
    return finish(io, checks, flags.json, undefined, undefined);
  }
  let target: Target;
  try {
    target = resolveTarget({ ...flags, engine: settings.engine }, settings.settingsUsable ? io.env : {});
  } catch (error) {
    // A malformed flag (e.g. --port).
    checks.push({
      name: "settings",
      status: "fail",
      detail: "invalid flag",
      cause: (error as Error).message,
    });
    return finish(io, checks, flags.json, settings.engine, undefined);
  }

  const chain = io.createCredentialChain
    ? io.createCredentialChain({ clientId: target.clientId })
    : createCredentialChain(io.env, { clientId: target.clientId });
  const credential = await checkCredential(chain, target.scope, timeoutInMs);
  checks.push(credential.check);
  const accessToken = credential.accessToken;

  let user = target.user;
  if (accessToken) {
    checks.push(
      checkToken({
        token: accessToken.token,
        engine: target.engine,
        host: target.host,
        scope: target.scope,
        user: target.user,
        userSource: target.userSource,
        expiresOnTimestamp: accessToken.expiresOnTimestamp,
        now: now(),
      }),
    );
    try {
      user = resolveUsername({ explicit: target.user, token: accessToken.token });
    } catch {
      user = undefined;
    }
  } else {
    checks.push(skipped("token", "no token"));
  }

  let reachable = false;
  if (target.host) {
    const network = await checkNetwork({
      engine: target.engine,
      host: target.host,
      port: target.port,
      ca,
      timeoutInMs,
    });
    checks.push(network.check);
    reachable = network.check.status !== "fail";
  } else {
    checks.push(skipped("network", "no host"));
  }

  if (target.engine === "sqlserver") {
    checks.push(skipped("login", "not checked for Azure SQL (use @org/mssql-entra)"));
  } else if (!accessToken) {
    checks.push(skipped("login", "no token"));
  } else if (!target.host || !reachable) {
    checks.push(skipped("login", "network check failed"));
  } else if (!user) {
    checks.push({
      name: "login",
      status: "fail",
      detail: "no username",
      cause: "No --user, no *_USER variable, and the token carries no name.",
      fix: "Pass --user or set the *_USER variable to the Entra principal's name.",
    });
  } else {
    checks.push(
      await checkLogin({
        engine: target.engine,
        host: target.host,
        port: target.port,
        database: target.database,
        user,
        accessToken,
        scope: target.scope,
        ca,
        timeoutInMs,
        env: io.env,
      }),
    );
  }
  return finish(io, checks, flags.json, target.engine, accessToken?.token);
}

function finish(
  io: CliIo,
  checks: Check[],
  json: boolean | undefined,
  engine: string | undefined,
  token: string | undefined,
): number {
  const report = createReport(checks, engine);
  const text = json
    ? `${JSON.stringify(report, null, 2)}\n`
    : formatReport(report, { fancy: Boolean(io.stdout.isTTY) && !io.env.NO_COLOR });
  // Belt and braces: nothing above prints the token, but a server message could echo it.
  io.stdout.write(redactToken(text, token));
  return report.ok ? 0 : 1;
}

import { readFileSync } from "node:fs";
import { type Engine, resolveUsername } from "@org/entra-core";
import { CliError, EXIT } from "./cli-error.js";
import type { CliIo } from "./cli-io.js";
import { type CommandFlags, parseSeconds, parseTimeout, type TARGET_OPTIONS } from "./command-options.js";
import { type Command, defineCommand } from "./define-command.js";
import type { DoctorMultiReport, DoctorReport } from "./doctor/check.js";
import { checkCredential } from "./doctor/check-credential.js";
import { checkLogin } from "./doctor/check-login.js";
import { checkNetwork } from "./doctor/check-network.js";
import { checkSettings } from "./doctor/check-settings.js";
import { checkToken } from "./doctor/check-token.js";
import { createCredentialChain } from "./doctor/credential-chain.js";
import { DoctorReporter } from "./doctor/doctor-reporter.js";
import { createReport, useColor } from "./doctor/format-report.js";
import { configuredEngines, ENGINE_PREFIXES, parseEngine } from "./select-engine.js";

/** Usage of `entra-db doctor`. */
export const DOCTOR_USAGE = `Usage: entra-db doctor [--engine postgresql|mysql|sqlserver] [options]

Diagnoses a passwordless connection step by step. Never prints the token. Each check's result is
printed as soon as it is known (on a terminal a spinner shows the running check and its time).

  settings    the settings actually used (flags over Service Connector variables); malformed ones
  credential  which credential of the DefaultAzureCredential chain produced a token, one line per
              credential with why it did not; the most likely fix first. Honours AZURE_TOKEN_CREDENTIALS
  token       audience, tenant, principal, idtyp, expiry, derived username; audience vs engine/cloud
  network     DNS, TCP, TLS handshake with certificate verification
  login       a real login through @org/pg-entra / @org/mysql2-entra (select current_user)

Without --engine, every engine whose variables are set (AZURE_POSTGRESQL_*, AZURE_MYSQL_*,
AZURE_SQL_*) is checked in turn, each under a "== <engine> ==" header.

Options:
  -e, --engine <engine>   postgresql, mysql or sqlserver (default: each engine whose variables are set)
      --host, --port, -d/--database, -u/--user   Override the *_HOST/_PORT/_DATABASE/_USER variables
                          (with variables of several engines set, they need --engine)
      --client-id <id>    Client ID of a user-assigned managed identity (default: *_CLIENTID)
      --scope <scope>     Token scope (default: chosen from the engine and host)
      --ca <file>         Trust this CA (PEM) for the TLS and login checks instead of Node's store
      --timeout <s>       Time limit per credential and per network step (default 10)
      --deadline <s>      Time limit for the whole run (default none); checks not finished by then
                          are reported as failed or not run
      --json              Print { ok, engine, checks: [{ name, status, detail, lines?, cause?, fix?,
                          alternatives? }] }; with several engines { ok, engines: [<that>, ...] }
  -h, --help              Show this help

Colour only on a terminal; NO_COLOR turns it off, FORCE_COLOR on.
Exit status: 0 no check failed (warnings allowed), 1 a check failed, 2 usage error.`;

const DOCTOR_OPTIONS = {
  json: { type: "boolean" },
  ca: { type: "string" },
  deadline: { type: "string" },
} as const;

type DoctorFlags = CommandFlags<typeof TARGET_OPTIONS & typeof DOCTOR_OPTIONS>;

/** The flags that describe one server: they cannot apply to several engines at once. */
const PER_ENGINE_FLAGS = ["host", "port", "database", "user", "scope"] as const;

/**
 * `entra-db doctor`: runs the settings, credential, token, network and login checks, printing
 * each as it finishes (or `--json` at the end), for the `--engine` given or else for each engine
 * whose variables are set. Returns 1 when a check failed. `--timeout` limits each credential and
 * each network step (10 s without it); `--deadline` the whole run.
 */
export const doctorCommand: Command = defineCommand({
  name: "doctor",
  usage: DOCTOR_USAGE,
  options: DOCTOR_OPTIONS,
  run: doctor,
});

function readCa(file: string | undefined): string | undefined {
  if (!file) return undefined;
  try {
    return readFileSync(file, "utf8");
  } catch (error) {
    throw new CliError("USAGE", `Cannot read --ca ${file}: ${(error as Error).message}`);
  }
}

async function doctor(flags: DoctorFlags, io: CliIo): Promise<number> {
  const timeoutInMs = parseTimeout(flags.timeout, 10_000);
  const deadlineInMs = parseSeconds("--deadline", flags.deadline);
  const ca = readCa(flags.ca);
  const engines: Engine[] =
    flags.engine !== undefined ? [parseEngine(flags.engine)] : configuredEngines(io.env);
  const multi = engines.length > 1;
  if (multi) {
    const given = PER_ENGINE_FLAGS.filter((name) => flags[name]);
    if (given.length) {
      throw new CliError(
        "USAGE",
        `${given.map((name) => `--${name}`).join(", ")} describe${given.length === 1 ? "s" : ""} one server, but variables of several engines are set (${engines.join(", ")}).`,
        `Pass --engine ${engines.join("|")} as well.`,
      );
    }
  }
  const json = Boolean(flags.json);
  const reporter = new DoctorReporter({
    out: io.stdout,
    quiet: json,
    tty: !json && Boolean(io.stdout.isTTY),
    color: !json && useColor(io.stdout.isTTY, io.env),
    now: io.now ?? Date.now,
    deadlineInMs,
  });
  const reports: DoctorReport[] = [];
  for (const engine of engines.length ? engines : [undefined]) {
    if (multi && engine) {
      reporter.beginEngine(`${reports.length ? "\n" : ""}== ${engine} (${ENGINE_PREFIXES[engine]}*) ==`);
    } else {
      reporter.beginEngine();
    }
    const checked = await checkEngine({ ...flags, engine: engine ?? flags.engine }, io, reporter, {
      timeoutInMs,
      ca,
    });
    reporter.summary(multi ? `${engine}: ` : "");
    reports.push(createReport(reporter.checks, checked));
  }
  const ok = reports.every((report) => report.ok);
  if (multi && !json) {
    const failed = reports.filter((report) => !report.ok).map((report) => report.engine);
    reporter.write(
      `\n${reports.length} engines checked: ${failed.length ? `${failed.length} failed (${failed.join(", ")})` : "all passed"}.\n`,
    );
  }
  if (json) {
    const report: DoctorReport | DoctorMultiReport = multi
      ? { ok, engines: reports }
      : (reports[0] as DoctorReport);
    io.stdout.write(reporter.redact(`${JSON.stringify(report, null, 2)}\n`));
  }
  return ok ? EXIT.ok : EXIT.failed;
}

/** Runs the checks of one engine through the reporter; returns the engine checked, if any. */
async function checkEngine(
  flags: DoctorFlags,
  io: CliIo,
  reporter: DoctorReporter,
  { timeoutInMs, ca }: { timeoutInMs: number; ca: string | undefined },
): Promise<Engine | undefined> {
  const settings = checkSettings(flags, io.env);
  reporter.add(settings.check);
  const target = settings.target;
  if (!settings.engine || !target) {
    for (const name of ["credential", "token", "network", "login"]) reporter.skip(name, "no engine");
    return undefined;
  }
  const chain = io.createCredentialChain
    ? io.createCredentialChain({ clientId: target.clientId })
    : createCredentialChain(io.env, { clientId: target.clientId });
  const credential = await reporter.run("credential", () =>
    checkCredential(chain, target.scope, reporter.limit(timeoutInMs), {
      env: io.env,
      clientId: target.clientId,
    }),
  );
  const accessToken = credential?.accessToken;
  reporter.hideToken(accessToken?.token);
  let user = target.user;
  if (accessToken) {
    await reporter.run("token", async () => ({
      check: checkToken({
        token: accessToken.token,
        engine: target.engine,
        host: target.host,
        scope: target.scope,
        user: target.user,
        userSource: target.userSource,
        expiresOnTimestamp: accessToken.expiresOnTimestamp,
        now: (io.now ?? Date.now)(),
      }),
    }));
    try {
      user = resolveUsername({ explicit: target.user, token: accessToken.token });
    } catch {
      user = undefined;
    }
  } else {
    reporter.skip("token", "no token");
  }

  let reachable = false;
  if (target.host) {
    const host = target.host;
    const network = await reporter.run("network", () =>
      checkNetwork({
        engine: target.engine,
        host,
        port: target.port,
        ca,
        timeoutInMs: reporter.limit(timeoutInMs),
      }),
    );
    reachable = network !== undefined && network.check.status !== "fail";
  } else {
    reporter.skip("network", "no host");
  }

  if (target.engine === "sqlserver") {
    reporter.skip("login", "not checked for Azure SQL (use @org/mssql-entra)");
  } else if (!accessToken) {
    reporter.skip("login", "no token");
  } else if (!target.host || !reachable) {
    reporter.skip("login", "network check failed");
  } else if (!user) {
    reporter.add({
      name: "login",
      status: "fail",
      detail: "no username",
      cause: "No --user, no *_USER variable, and the token carries no name.",
      fix: "Pass --user or set the *_USER variable to the Entra principal's name.",
    });
  } else {
    const host = target.host;
    const engine = target.engine;
    const loginUser = user;
    await reporter.run("login", async () => ({
      check: await checkLogin({
        engine,
        host,
        port: target.port,
        database: target.database,
        user: loginUser,
        accessToken,
        scope: target.scope,
        ca,
        timeoutInMs: reporter.limit(timeoutInMs),
        env: io.env,
      }),
    }));
  }
  return settings.engine;
}

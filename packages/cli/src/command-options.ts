import { type ParseArgsConfig, parseArgs } from "node:util";
import { CliError } from "./cli-error.js";

/** The flags a command declares, in `node:util` `parseArgs` form. */
export type CommandOptions = NonNullable<ParseArgsConfig["options"]>;

/** The parsed flags of a command: booleans for `boolean` options, strings for the rest. */
export type CommandFlags<T extends CommandOptions> = {
  readonly [K in keyof T]?: T[K] extends { readonly type: "boolean" } ? boolean : string;
};

/** Flags every command accepts: the target, the credential and the time limit. */
export const TARGET_OPTIONS = {
  engine: { type: "string", short: "e" },
  host: { type: "string" },
  port: { type: "string" },
  database: { type: "string", short: "d" },
  user: { type: "string", short: "u" },
  "client-id": { type: "string" },
  scope: { type: "string" },
  timeout: { type: "string" },
  help: { type: "boolean", short: "h" },
} as const satisfies CommandOptions;

/** node:util's parse error, shortened to its first sentence (without the advice about `--`). */
function describeParseError(error: unknown): string {
  const message = error instanceof Error ? error.message : String(error);
  const code = (error as { code?: string }).code;
  if (code === "ERR_PARSE_ARGS_UNKNOWN_OPTION") {
    const option = /'([^']+)'/.exec(message)?.[1];
    if (option) return `Unknown option '${option}'.`;
  }
  if (code === "ERR_PARSE_ARGS_UNEXPECTED_POSITIONAL") {
    const argument = /'([^']*)'/.exec(message)?.[1];
    if (argument !== undefined) return `Unexpected argument '${argument}'.`;
  }
  const first = message.split(/(?<=\.)\s/)[0] ?? message;
  return first.endsWith(".") ? first : `${first}.`;
}

/**
 * Parses a command's arguments strictly (unknown flags and stray positionals are errors) and turns
 * node:util's errors into `CliError` `USAGE` (exit status 2) with the hint `Run: entra-db <command> --help`.
 */
export function parseCommandArgs<T extends CommandOptions>(
  command: string,
  args: readonly string[],
  options: T,
): CommandFlags<T> {
  try {
    return parseArgs({ args: [...args], options, strict: true, allowPositionals: false })
      .values as CommandFlags<T>;
  } catch (error) {
    throw new CliError("USAGE", describeParseError(error), `Run: entra-db ${command} --help`);
  }
}

/**
 * Parses an option given in seconds (`--timeout`, `--deadline`) into milliseconds: `fallbackInMs`
 * when the flag is absent (`value` undefined). Throws `CliError` `USAGE` unless it is a positive
 * number.
 */
export function parseSeconds(option: string, value: string | undefined, fallbackInMs: number): number;
export function parseSeconds(
  option: string,
  value: string | undefined,
  fallbackInMs?: number,
): number | undefined;
export function parseSeconds(
  option: string,
  value: string | undefined,
  fallbackInMs?: number,
): number | undefined {
  if (value === undefined) return fallbackInMs;
  const seconds = value.trim() === "" ? Number.NaN : Number(value);
  if (!(Number.isFinite(seconds) && seconds > 0)) {
    throw new CliError("USAGE", `${option} must be a positive number of seconds (got "${value}").`);
  }
  return Math.max(1, Math.round(seconds * 1000));
}

/**
 * Parses `--timeout <seconds>` into milliseconds: `fallbackInMs` when the flag is absent
 * (`value` undefined). Throws `CliError` `USAGE` unless it is a positive number.
 */
export function parseTimeout(value: string | undefined, fallbackInMs: number): number {
  return parseSeconds("--timeout", value, fallbackInMs);
}

/**
 * Refuses to write a secret to a terminal unless `--force`: it would stay in the scrollback and in
 * screen recordings. Throws `CliError` `SECRET_TO_TERMINAL` (exit status 1). Output that is not a
 * TTY (a pipe, a file, `$(...)`) is always allowed.
 */
export function refuseTty(isTTY: boolean | undefined, force: boolean | undefined, what: string): void {
  if (isTTY && !force) {
    throw new CliError(
      "SECRET_TO_TERMINAL",
      `Refusing to print ${what} to a terminal.`,
      "Use --force or pipe it (e.g. `| pbcopy`, `> file`, or `$(entra-db ...)`).",
    );
  }
}

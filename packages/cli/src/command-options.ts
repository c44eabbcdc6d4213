import { type ParseArgsConfig, parseArgs } from "node:util";
import { EntraAuthError } from "@org/entra-core";

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

/**
 * Parses a command's arguments strictly (unknown flags and stray positionals are errors) and turns
 * node:util's errors into `EntraAuthError` `INVALID_SETTING` with a pointer to `--help`.
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
    throw new EntraAuthError("INVALID_SETTING", (error as Error).message, {
      hint: `Run: entra-db ${command} --help`,
    });
  }
}

/**
 * Parses `--timeout <seconds>` into milliseconds: `fallbackInMs` when the flag is absent
 * (`value` undefined). Throws `EntraAuthError` `INVALID_SETTING` unless it is a positive number.
 */
export function parseTimeout(value: string | undefined, fallbackInMs: number): number {
  if (value === undefined) return fallbackInMs;
  const seconds = Number(value);
  if (!(Number.isFinite(seconds) && seconds > 0)) {
    throw new EntraAuthError(
      "INVALID_SETTING",
      `--timeout must be a positive number of seconds (got "${value}").`,
    );
  }
  return Math.round(seconds * 1000);
}

/**
 * Refuses to write a secret to a terminal unless `--force`: it would stay in the scrollback and in
 * screen recordings. Throws `EntraAuthError` `INVALID_SETTING`. Output that is not a TTY (a pipe,
 * a file, `$(...)`) is always allowed.
 */
export function refuseTty(isTTY: boolean | undefined, force: boolean | undefined, what: string): void {
  if (isTTY && !force) {
    throw new EntraAuthError("INVALID_SETTING", `Refusing to print ${what} to a terminal.`, {
      hint: "Use --force or pipe it (e.g. `| pbcopy`, `> file`, or `$(entra-db ...)`).",
    });
  }
}

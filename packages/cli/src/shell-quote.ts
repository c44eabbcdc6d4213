import { CliError } from "./cli-error.js";

/** The shells `entra-db env --shell` writes for. */
export type Shell = "posix" | "fish" | "powershell" | "cmd";

/** The values of `--shell`, in the order the help lists them. */
export const SHELLS: readonly Shell[] = ["posix", "powershell", "cmd", "fish"];

/**
 * Quotes a value for POSIX shells (sh, bash, zsh): single quotes, with embedded single quotes
 * written as `'\''`; the empty string becomes `''`. Safe for any byte sequence except NUL.
 *
 * @example
 * ```ts
 * shellQuote("it's"); // "'it'\\''s'"
 * ```
 */
export function shellQuote(value: string): string {
  return `'${value.replaceAll("'", `'\\''`)}'`;
}

/**
 * Quotes a value for fish: single quotes, inside which fish knows only two escapes, `\'` and
 * `\\` (a newline stays literal).
 *
 * @example
 * ```ts
 * fishQuote("it's"); // "'it\\'s'"
 * ```
 */
export function fishQuote(value: string): string {
  return `'${value.replaceAll("\\", "\\\\").replaceAll("'", "\\'")}'`;
}

/**
 * Quotes a value for PowerShell: a verbatim (single-quoted) string, in which nothing expands and
 * a quote is written twice. PowerShell also ends such a string at the typographic single quotes
 * U+2018, U+2019, U+201A and U+201B, so those are doubled as well.
 *
 * @example
 * ```ts
 * powershellQuote("it's $HOME"); // "'it''s $HOME'"
 * ```
 */
export function powershellQuote(value: string): string {
  return `'${value.replace(/['\u2018\u2019\u201A\u201B]/g, "$&$&")}'`;
}

/**
 * Writes `set "NAME=value"` for cmd.exe, the form in which `&`, `|`, `<`, `>`, `^` and spaces in
 * the value are literal and `set` keeps everything up to the last quote (so a `"` inside survives).
 * Meant for `for /f "delims=" %L in ('entra-db env --shell cmd') do @%L`, where the lines are not
 * `%`-expanded again (in a `.cmd` file run with `call` they would be). cmd has no way to write a
 * line break in a value: throws `CliError` `USAGE` for one.
 */
export function cmdSet(name: string, value: string): string {
  if (/[\r\n\0]/.test(value)) {
    throw new CliError(
      "USAGE",
      `The value of ${name} contains a line break, which cmd cannot take.`,
      "Use --json, or --shell powershell.",
    );
  }
  return `set "${name}=${value}"`;
}

/** One line setting `name` to `value` in `shell`. */
function assignment(shell: Shell, name: string, value: string): string {
  switch (shell) {
    case "posix":
      return `export ${name}=${shellQuote(value)}`;
    case "fish":
      return `set -gx ${name} ${fishQuote(value)}`;
    case "powershell":
      return `$env:${name} = ${powershellQuote(value)}`;
    case "cmd":
      return cmdSet(name, value);
  }
}

/** `value` quoted as one word for `shell` (cmd: in double quotes, which it cannot escape). */
export function quoteFor(shell: Shell, value: string): string {
  switch (shell) {
    case "posix":
      return shellQuote(value);
    case "fish":
      return fishQuote(value);
    case "powershell":
      return powershellQuote(value);
    case "cmd":
      return `"${value}"`;
  }
}

/**
 * A comment line in `shell` (`# text`, or `REM text` for cmd), for notes printed with the
 * variables.
 */
export function commentLine(shell: Shell, text: string): string {
  return shell === "cmd" ? `REM ${text}` : `# ${text}`;
}

/**
 * How `shell` reads an environment variable inside a command line, quoted: `"$NAME"` (POSIX, fish),
 * `"$env:NAME"` (PowerShell), `"%NAME%"` (cmd).
 */
export function variableReference(shell: Shell, name: string): string {
  if (shell === "powershell") return `"$env:${name}"`;
  if (shell === "cmd") return `"%${name}%"`;
  return `"$${name}"`;
}

/**
 * Lines that set environment variables in `shell` (default POSIX: `export NAME='value'`), one per
 * entry, skipping `undefined` values; the empty string when every value is `undefined`.
 *
 * @example
 * ```ts
 * exportLines([["PGHOST", "db.example.com"]]); // "export PGHOST='db.example.com'\n"
 * exportLines([["PGHOST", "db.example.com"]], "powershell"); // "$env:PGHOST = 'db.example.com'\n"
 * ```
 */
export function exportLines(
  entries: ReadonlyArray<readonly [string, string | undefined]>,
  shell: Shell = "posix",
): string {
  return entries
    .filter((entry): entry is readonly [string, string] => entry[1] !== undefined)
    .map(([name, value]) => `${assignment(shell, name, value)}\n`)
    .join("");
}

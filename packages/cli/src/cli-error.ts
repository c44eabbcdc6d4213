/**
 * Why `entra-db` stopped when the cause is how it was invoked rather than Azure, the credential or
 * the server (those are `EntraAuthError`s from `@org/entra-core`):
 * - `USAGE`: an unknown command or option, a missing or malformed option value, options that
 *   contradict each other. Exit status 2.
 * - `SECRET_TO_TERMINAL`: a token or a URL with a token would be printed to a terminal (it would
 *   stay in the scrollback and in screen recordings). Exit status 1.
 */
export type CliErrorCode = "USAGE" | "SECRET_TO_TERMINAL";

/** Exit statuses of `entra-db`: 0 success, 1 a check or an operation failed, 2 a usage error. */
export const EXIT = {
  /** Success: every check passed, the output was written. */
  ok: 0,
  /** A check or an operation failed (no token, the server refused, a secret refused to a terminal). */
  failed: 1,
  /** A usage error: unknown command or option, a bad option value. */
  usage: 2,
} as const;

/** An error of the command line itself, printed as `entra-db: <message> [<code>]` and its hint. */
export class CliError extends Error {
  /** Always `"CliError"`, also across copies of this package (see {@link isCliError}). */
  override readonly name = "CliError";
  /** What went wrong, see {@link CliErrorCode}. */
  readonly code: CliErrorCode;
  /** What to type instead, printed on its own line. */
  readonly hint: string | undefined;
  /** The process exit status: 2 for `USAGE`, else 1. */
  readonly exitCode: number;

  constructor(code: CliErrorCode, message: string, hint?: string) {
    super(message);
    this.code = code;
    this.hint = hint;
    this.exitCode = code === "USAGE" ? EXIT.usage : EXIT.failed;
  }
}

/** True for a {@link CliError} (also across copies of this package). */
export function isCliError(error: unknown): error is CliError {
  return (
    error instanceof CliError || (error instanceof Error && error.name === "CliError" && "exitCode" in error)
  );
}

import type { Check, CheckStatus, DoctorReport } from "./check.js";

const UNICODE: Readonly<Record<CheckStatus, string>> = { ok: "✓", warn: "!", fail: "✗", skip: "-" };
const ASCII: Readonly<Record<CheckStatus, string>> = {
  ok: "[ok]",
  warn: "[warn]",
  fail: "[FAIL]",
  skip: "[skip]",
};
const COLORS: Readonly<Record<CheckStatus, string>> = { ok: "32", warn: "33", fail: "31", skip: "90" };

/**
 * How {@link formatReport} draws.
 *
 * @inline
 */
export interface FormatReportOptions {
  /** ✓ ! ✗ marks (for a terminal); else `[ok]`, `[warn]`, `[FAIL]`, `[skip]`. Defaults to `false`. */
  readonly fancy?: boolean;
  /** ANSI colours on the marks. Defaults to `fancy`. */
  readonly color?: boolean;
}

type Env = Readonly<Record<string, string | undefined>>;

/**
 * Whether to colour the output: never with a non-empty `NO_COLOR`; with `FORCE_COLOR` set (other
 * than `0` or `false`) even when not a terminal; else only on a terminal.
 */
export function useColor(isTTY: boolean | undefined, env: Env): boolean {
  if (env.NO_COLOR) return false;
  const force = env.FORCE_COLOR;
  if (force !== undefined) return force !== "0" && force.toLowerCase() !== "false";
  return Boolean(isTTY);
}

/** `text` in the ANSI colour of `status` when `color`, else as is. */
export function paint(status: CheckStatus, text: string, color: boolean): string {
  return color ? `\u001b[${COLORS[status]}m${text}\u001b[0m` : text;
}

/**
 * One check as text: mark, name and detail, then its `lines` (indented), then `cause:`, `fix:` and
 * one `or:` line per alternative. No trailing newline.
 */
export function formatCheck(check: Check, options: FormatReportOptions = {}): string {
  const fancy = options.fancy ?? false;
  const color = options.color ?? fancy;
  const mark = paint(check.status, fancy ? UNICODE[check.status] : ASCII[check.status], color);
  const lines = [`${mark} ${check.name.padEnd(10)} ${check.detail}`];
  const indent = " ".repeat(fancy ? 2 : 7);
  for (const line of check.lines ?? []) lines.push(`${indent}  ${line}`);
  if (check.cause) lines.push(`${indent}cause: ${check.cause}`);
  if (check.fix) lines.push(`${indent}fix:   ${check.fix}`);
  for (const alternative of check.alternatives ?? []) lines.push(`${indent}or:    ${alternative}`);
  return lines.join("\n");
}

/** The summary line of some checks: `All checks passed.`, `2 checks failed, 1 warning.`, ... */
export function summarize(checks: readonly Check[]): string {
  const failed = checks.filter((check) => check.status === "fail").length;
  const warned = checks.filter((check) => check.status === "warn").length;
  return failed > 0
    ? `${failed} check${failed === 1 ? "" : "s"} failed${warned ? `, ${warned} warning${warned === 1 ? "" : "s"}` : ""}.`
    : warned > 0
      ? `All checks passed with ${warned} warning${warned === 1 ? "" : "s"}.`
      : "All checks passed.";
}

/**
 * The human-readable report: each check as `formatCheck` draws it, and a summary line.
 * Without `options`, ASCII marks without colour.
 *
 * @example
 * ```ts
 * io.stdout.write(formatReport(report, { fancy: io.stdout.isTTY, color: useColor(io.stdout.isTTY, io.env) }));
 * ```
 */
export function formatReport(report: DoctorReport, options: FormatReportOptions = {}): string {
  const lines = report.checks.map((check) => formatCheck(check, options));
  lines.push(summarize(report.checks));
  return `${lines.join("\n")}\n`;
}

/**
 * A report from its checks and the engine they ran for (absent when none could be picked): `ok`
 * is true when none failed, so also for an empty list.
 */
export function createReport(checks: readonly Check[], engine?: string): DoctorReport {
  return { ok: checks.every((check) => check.status !== "fail"), engine, checks };
}

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
  /** ✓ ! ✗ with ANSI colours (a terminal without NO_COLOR); else `[ok]`, `[warn]`, `[FAIL]`. Defaults to `false`. */
  readonly fancy?: boolean;
}

function formatCheck(check: Check, fancy: boolean): string {
  const mark = fancy
    ? `\u001b[${COLORS[check.status]}m${UNICODE[check.status]}\u001b[0m`
    : ASCII[check.status];
  const lines = [`${mark} ${check.name.padEnd(10)} ${check.detail}`];
  const indent = " ".repeat(fancy ? 2 : 7);
  if (check.cause) lines.push(`${indent}cause: ${check.cause}`);
  if (check.fix) lines.push(`${indent}fix:   ${check.fix}`);
  return lines.join("\n");
}

/**
 * The human-readable report: one line per check (mark, name, detail), plus `cause:` and `fix:`
 * lines under a warning or failure, and a summary line. Without `options`, ASCII marks without
 * colour.
 *
 * @example
 * ```ts
 * io.stdout.write(formatReport(report, { fancy: io.stdout.isTTY && !io.env.NO_COLOR }));
 * ```
 */
export function formatReport(report: DoctorReport, options: FormatReportOptions = {}): string {
  const fancy = options.fancy ?? false;
  const lines = report.checks.map((check) => formatCheck(check, fancy));
  const failed = report.checks.filter((check) => check.status === "fail").length;
  const warned = report.checks.filter((check) => check.status === "warn").length;
  lines.push(
    failed > 0
      ? `${failed} check${failed === 1 ? "" : "s"} failed${warned ? `, ${warned} warning${warned === 1 ? "" : "s"}` : ""}.`
      : warned > 0
        ? `All checks passed with ${warned} warning${warned === 1 ? "" : "s"}.`
        : "All checks passed.",
  );
  return `${lines.join("\n")}\n`;
}

/**
 * A report from its checks and the engine they ran for (absent when none could be picked): `ok`
 * is true when none failed, so also for an empty list.
 */
export function createReport(checks: readonly Check[], engine?: string): DoctorReport {
  return { ok: checks.every((check) => check.status !== "fail"), engine, checks };
}

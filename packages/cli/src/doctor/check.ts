/**
 * Outcome of one doctor check. `skip`: not run, because an earlier check failed or the
 * `--deadline` was reached.
 */
export type CheckStatus = "ok" | "warn" | "fail" | "skip";

/** One line of the doctor's report. Never contains a token. */
export interface Check {
  /** `settings`, `credential`, `token`, `network` or `login`. */
  readonly name: string;
  /** Whether it passed, warns, failed or was skipped. */
  readonly status: CheckStatus;
  /** What was found, in one line. */
  readonly detail: string;
  /** Further lines under the detail, one per item (the credential check: one per credential). */
  readonly lines?: readonly string[];
  /** Why it failed or warns: the likely cause. Absent when ok. */
  readonly cause?: string;
  /** What to change, the most likely remedy. Absent when ok. */
  readonly fix?: string;
  /** Other remedies, less likely than `fix` (at most a couple). */
  readonly alternatives?: readonly string[];
  /** Machine-readable details (credential attempts, token claims, certificate), where the check has any. */
  readonly data?: Readonly<Record<string, unknown>>;
}

/** The doctor's machine-readable report (`entra-db doctor --json`). */
export interface DoctorReport {
  /** True when no check failed (warnings allowed). */
  readonly ok: boolean;
  /** The engine that was checked; absent when none could be chosen. */
  readonly engine?: string | undefined;
  /** The checks in the order they ran: `settings`, `credential`, `token`, `network`, `login`. */
  readonly checks: readonly Check[];
}

/**
 * `entra-db doctor --json` when several engines are configured and no `--engine` is given: one
 * {@link DoctorReport} per engine, in the order they were checked.
 */
export interface DoctorMultiReport {
  /** True when no check of any engine failed. */
  readonly ok: boolean;
  /** The report of each engine. */
  readonly engines: readonly DoctorReport[];
}

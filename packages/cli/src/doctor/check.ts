/** Outcome of one doctor check. `skip`: not run because an earlier check failed. */
export type CheckStatus = "ok" | "warn" | "fail" | "skip";

/** One line of the doctor's report. Never contains a token. */
export interface Check {
  /** `settings`, `credential`, `token`, `network` or `login`. */
  readonly name: string;
  /** Whether it passed, warns, failed or was skipped. */
  readonly status: CheckStatus;
  /** What was found, in one line. */
  readonly detail: string;
  /** Why it failed or warns: the likely cause. Absent when ok. */
  readonly cause?: string;
  /** What to change. Absent when ok. */
  readonly fix?: string;
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

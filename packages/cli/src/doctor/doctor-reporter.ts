import { redactToken } from "@org/entra-core";
import type { OutputStream } from "../cli-io.js";
import type { Check } from "./check.js";
import { formatCheck, summarize } from "./format-report.js";

/** How {@link DoctorReporter} writes. */
export interface DoctorReporterOptions {
  /** Where the report goes (stdout). */
  readonly out: OutputStream;
  /** Nothing is written while running (`--json` prints the whole report at the end). */
  readonly quiet?: boolean | undefined;
  /** A terminal: ✓ ✗ marks and, while a check runs, a spinner with the elapsed time. */
  readonly tty?: boolean | undefined;
  /** ANSI colours on the marks. */
  readonly color?: boolean | undefined;
  /** Current time, epoch ms. */
  readonly now: () => number;
  /** `--deadline` in ms, counted from the reporter's creation; absent for no deadline. */
  readonly deadlineInMs?: number | undefined;
  /** How often the spinner line is redrawn. Defaults to 100 ms. */
  readonly tickInMs?: number | undefined;
}

const FRAMES = ["⠋", "⠙", "⠹", "⠸", "⠼", "⠴", "⠦", "⠧", "⠇", "⠏"];

function seconds(ms: number): string {
  return `${(ms / 1000).toFixed(1)} s`;
}

/**
 * Runs the doctor's checks one after the other and writes each check's lines as soon as it
 * finishes (on a terminal, a spinner line with the elapsed time stands for the running check and is
 * overwritten by its result). Enforces `--deadline`: a check still running at the deadline fails,
 * and every check after it is reported as not run.
 */
/** How long after the deadline a step capped by it gives up (the deadline reports it first). */
const DEADLINE_GRACE_IN_MS = 100;

export class DoctorReporter {
  /** The checks of the current engine, in order. */
  checks: Check[] = [];
  private readonly startedAt: number;
  private readonly tokens = new Set<string>();

  constructor(private readonly options: DoctorReporterOptions) {
    this.startedAt = options.now();
  }

  /** Never prints `token` (a server message could echo it). */
  hideToken(token: string | undefined): void {
    if (token) this.tokens.add(token);
  }

  /** ms left until the deadline (at least 1), `undefined` without one, 0 when it has passed. */
  remaining(): number | undefined {
    if (this.options.deadlineInMs === undefined) return undefined;
    const left = this.startedAt + this.options.deadlineInMs - this.options.now();
    return left > 0 ? Math.max(1, left) : 0;
  }

  /**
   * `timeoutInMs`, or less when the deadline comes sooner: then a little after the deadline, so that
   * the deadline (not the step's own timeout racing it) reports the check, and the step still stops.
   */
  limit(timeoutInMs: number): number {
    const left = this.remaining();
    return left === undefined ? timeoutInMs : Math.max(1, Math.min(timeoutInMs, left + DEADLINE_GRACE_IN_MS));
  }

  private deadlineText(): string {
    return `--deadline ${(this.options.deadlineInMs ?? 0) / 1000} s`;
  }

  /** `text` without any token seen so far. */
  redact(text: string): string {
    let safe = text;
    for (const token of this.tokens) safe = redactToken(safe, token);
    return safe;
  }

  /** Writes text as is (redacted), unless quiet. */
  write(text: string): void {
    if (!this.options.quiet) this.options.out.write(this.redact(text));
  }

  /** Starts the checks of another engine: writes a header line when `header` is given. */
  beginEngine(header?: string): void {
    this.checks = [];
    if (header) this.write(`${header}\n`);
  }

  /** Records a check that has a result without running anything. */
  add(check: Check): void {
    this.checks.push(check);
    this.write(
      `${formatCheck(check, { fancy: Boolean(this.options.tty), color: Boolean(this.options.color) })}\n`,
    );
  }

  /** Records a check that is not run for `reason` (or because the deadline has passed). */
  skip(name: string, reason: string): void {
    this.add({
      name,
      status: "skip",
      detail: this.remaining() === 0 ? `not run: the ${this.deadlineText()} was reached` : reason,
    });
  }

  /**
   * Runs one check (`task` gets the ms left until the deadline, if any) and writes its result when
   * it finishes. Returns `undefined` when the deadline had passed (the check is reported as not
   * run) or passed while it ran (reported as failed).
   */
  async run<T extends { readonly check: Check }>(
    name: string,
    task: () => Promise<T>,
  ): Promise<T | undefined> {
    if (this.remaining() === 0) {
      this.skip(name, "");
      return undefined;
    }
    const stopSpinner = this.spin(name);
    let timer: NodeJS.Timeout | undefined;
    try {
      const left = this.remaining();
      const deadline =
        left === undefined
          ? new Promise<never>(() => {})
          : new Promise<"deadline">((resolve) => {
              timer = setTimeout(() => resolve("deadline"), left);
            });
      const result = await Promise.race([task(), deadline]);
      stopSpinner();
      if (result === "deadline") {
        this.add({
          name,
          status: "fail",
          detail: `no result before the ${this.deadlineText()} (still running after ${seconds(this.options.now() - this.startedAt)})`,
          cause: `The whole doctor run is limited to ${this.deadlineText()}; this check was still running.`,
          fix: "Raise --deadline, or lower --timeout so each step gives up sooner.",
        });
        return undefined;
      }
      this.add(result.check);
      return result;
    } catch (error) {
      stopSpinner();
      throw error;
    } finally {
      clearTimeout(timer);
    }
  }

  /** On a terminal, draws `⠋ name  1.2 s` and redraws it until the returned function is called. */
  private spin(name: string): () => void {
    if (this.options.quiet || !this.options.tty) return () => {};
    const started = this.options.now();
    let frame = 0;
    let width = 0;
    const draw = () => {
      const line = `${FRAMES[frame++ % FRAMES.length]} ${name.padEnd(10)} running ${seconds(this.options.now() - started)}`;
      this.options.out.write(`\r${line.padEnd(width)}`);
      width = line.length;
    };
    draw();
    const interval = setInterval(draw, this.options.tickInMs ?? 100);
    interval.unref?.();
    return () => {
      clearInterval(interval);
      // Blank the spinner line without escape sequences, then the result is written over it.
      this.options.out.write(`\r${" ".repeat(width)}\r`);
    };
  }

  /** The summary line of the current engine's checks. */
  summary(prefix = ""): void {
    this.write(`${prefix}${summarize(this.checks)}\n`);
  }
}

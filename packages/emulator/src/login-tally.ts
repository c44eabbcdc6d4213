/** A database engine the emulator fronts. */
export type DatabaseEngine = "postgres" | "mysql" | "sqlserver";

/** Login counters of one engine (`byEngine` of the emulator's counters). */
export interface EngineLoginCounters {
  /** Logins that were accepted. */
  readonly loginsAccepted: number;
  /** Logins that were refused, for any reason. */
  readonly loginsRejected: number;
  /**
   * Refused logins per reason (`expired`, `audience`, `invalid`, `principal`, `tls-required`), and
   * `backend` when the backend refused or failed. Reasons that never occurred are absent.
   */
  readonly rejectionsByReason: Readonly<Record<string, number>>;
}

/** Login counters summed over the engines, and per engine. */
export interface LoginCountersSnapshot extends EngineLoginCounters {
  readonly byEngine: Readonly<Record<DatabaseEngine, EngineLoginCounters>>;
}

interface MutableLoginCounters {
  loginsAccepted: number;
  loginsRejected: number;
  rejectionsByReason: Record<string, number>;
}

/**
 * Counts the logins of every engine: accepted, rejected, and rejections by reason (a rejection
 * without a reason, i.e. the backend refused or failed, counts as `backend`).
 *
 * @example
 * const tally = new LoginTally();
 * tally.observer("postgres")({ accepted: false, reason: "expired" });
 * tally.snapshot().byEngine.postgres.rejectionsByReason; // { expired: 1 }
 */
export class LoginTally {
  #counts = emptyEngineCounters();

  /** The `onLogin` callback of one engine's server. */
  observer(engine: DatabaseEngine): (event: { accepted: boolean; reason?: string }) => void {
    return (event) => {
      const counters = this.#counts[engine];
      if (event.accepted) {
        counters.loginsAccepted += 1;
        return;
      }
      counters.loginsRejected += 1;
      const reason = event.reason ?? "backend";
      counters.rejectionsByReason[reason] = (counters.rejectionsByReason[reason] ?? 0) + 1;
    };
  }

  /** Frozen totals over the engines and per engine, as of now. */
  snapshot(): LoginCountersSnapshot {
    const { postgres, mysql, sqlserver } = this.#counts;
    return {
      ...sumLoginCounters(postgres, mysql, sqlserver),
      byEngine: Object.freeze({
        postgres: freezeLoginCounters(postgres),
        mysql: freezeLoginCounters(mysql),
        sqlserver: freezeLoginCounters(sqlserver),
      }),
    };
  }

  /** Sets every counter to zero. */
  reset(): void {
    this.#counts = emptyEngineCounters();
  }
}

function emptyEngineCounters(): Record<DatabaseEngine, MutableLoginCounters> {
  const empty = (): MutableLoginCounters => ({
    loginsAccepted: 0,
    loginsRejected: 0,
    rejectionsByReason: {},
  });
  return { postgres: empty(), mysql: empty(), sqlserver: empty() };
}

function freezeLoginCounters(counters: MutableLoginCounters): EngineLoginCounters {
  return Object.freeze({
    ...counters,
    rejectionsByReason: Object.freeze({ ...counters.rejectionsByReason }),
  });
}

function sumLoginCounters(...engines: MutableLoginCounters[]): EngineLoginCounters {
  const rejectionsByReason: Record<string, number> = {};
  for (const engine of engines) {
    for (const [reason, count] of Object.entries(engine.rejectionsByReason)) {
      rejectionsByReason[reason] = (rejectionsByReason[reason] ?? 0) + count;
    }
  }
  return {
    loginsAccepted: engines.reduce((sum, engine) => sum + engine.loginsAccepted, 0),
    loginsRejected: engines.reduce((sum, engine) => sum + engine.loginsRejected, 0),
    rejectionsByReason: Object.freeze(rejectionsByReason),
  };
}

/** One phase of an open-loop schedule: from `fromMs` on, `rate` requests a second shared by `workerCount` workers. */
export interface SchedulePhase {
  /** Unix milliseconds (whole seconds in practice). */
  readonly fromMs: number;
  /** Requests per second of all workers together; 0 sends nothing. */
  readonly rate: number;
  /** This worker's place among the workers, 0-based, and how many there are. */
  readonly workerIndex: number;
  readonly workerCount: number;
}

/**
 * The planned send times of one worker, as wrk2 plans them: request k of a phase is due at
 * `fromMs + offset + k * interval`, where the interval is `workerCount / rate` seconds and the offset
 * `workerIndex / rate` seconds, so the workers' requests interleave into one evenly spaced stream of
 * `rate` a second. Latency is measured from these times, not from the actual send, so a stalled
 * target (or a late sender) cannot hide the wait of the requests that were due meanwhile.
 *
 * A new phase takes over at the first planned time at or after its `fromMs`; the requests due before
 * it stay on the old phase's times.
 */
export class OpenLoopSchedule {
  #phase: SchedulePhase | undefined;
  #pending: SchedulePhase | undefined;
  #k = 0;
  #next = Number.POSITIVE_INFINITY;

  /** Queues a phase; it applies from its `fromMs`. A later call replaces a phase not started yet. */
  setPhase(phase: SchedulePhase): void {
    if (!this.#phase) {
      this.#start(phase);
      return;
    }
    this.#pending = phase;
    if (phase.fromMs <= this.#next) this.#switchIfDue();
  }

  /** The planned time of the next request (Unix ms, fractional), or Infinity when nothing is due. */
  get next(): number {
    return this.#next;
  }

  /** The phase the next request belongs to. */
  get phase(): SchedulePhase | undefined {
    return this.#phase;
  }

  /** Moves past the request at {@link next}. */
  advance(): void {
    this.#k++;
    this.#next = this.#plannedAt(this.#k);
    this.#switchIfDue();
  }

  #start(phase: SchedulePhase): void {
    this.#phase = phase;
    this.#pending = undefined;
    this.#k = 0;
    this.#next = this.#plannedAt(0);
  }

  #switchIfDue(): void {
    const pending = this.#pending;
    if (pending && pending.fromMs <= this.#next) this.#start(pending);
  }

  #plannedAt(k: number): number {
    const phase = this.#phase;
    if (!phase || phase.rate <= 0 || phase.workerCount <= 0) return Number.POSITIVE_INFINITY;
    const spacingMs = 1000 / phase.rate;
    return phase.fromMs + phase.workerIndex * spacingMs + k * phase.workerCount * spacingMs;
  }
}

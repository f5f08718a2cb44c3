import type { Clock } from "./clock.js";
import type { RequestEnd } from "./http-target.js";
import { OpenLoopSchedule, type SchedulePhase } from "./schedule.js";
import type { SecondBuckets } from "./seconds.js";
import { TimeQueue, type RequestSink, type Sender } from "./sender.js";

export interface OpenLoopOptions {
  readonly sink: RequestSink;
  readonly buckets: SecondBuckets;
  readonly clock: Clock;
  /** Requests on the wire at once; the rest wait, in order, for one to end. */
  readonly connections: number;
  /** A request still waiting this long after its planned time is counted as timed out, not sent. */
  readonly timeoutMs: number;
  readonly endAtMs: number;
}

/**
 * Sends on a fixed schedule whatever the answers (open loop, as wrk2, vegeta and k6's arrival-rate
 * executors do). Each request's latency runs from its planned send time to the end of its answer: a
 * request that waited for a connection, or was sent late because the process was busy, carries that
 * wait. So a target that stalls shows the stall in the latency of every request that was due during
 * it, instead of hiding it behind the few requests that were on the wire (coordinated omission).
 */
export class OpenLoopSender implements Sender {
  readonly #options: OpenLoopOptions;
  readonly #schedule = new OpenLoopSchedule();
  readonly #waiting = new TimeQueue();
  #inFlight = 0;
  #endAtMs: number;
  #timer: NodeJS.Timeout | undefined;
  #stopped = false;

  constructor(options: OpenLoopOptions) {
    this.#options = options;
    this.#endAtMs = options.endAtMs;
  }

  get inFlight(): number {
    return this.#inFlight;
  }

  get backlog(): number {
    return this.#waiting.length;
  }

  get finished(): boolean {
    return this.#stopped || (this.#schedule.next >= this.#endAtMs && this.#inFlight === 0 && this.#waiting.length === 0);
  }

  setPhase(phase: SchedulePhase): void {
    this.#schedule.setPhase(phase);
    this.#arm(0);
  }

  setEnd(endAtMs: number): void {
    this.#endAtMs = endAtMs;
    this.#arm(0);
  }

  stop(): void {
    this.#stopped = true;
    this.#waiting.clear();
    if (this.#timer) clearTimeout(this.#timer);
    this.#timer = undefined;
  }

  #arm(delayMs: number): void {
    if (this.#stopped) return;
    if (this.#timer) clearTimeout(this.#timer);
    // Re-check at least once a second: a phase or an end may arrive meanwhile.
    this.#timer = setTimeout(this.#tick, Math.max(0, Math.min(delayMs, 1000)));
  }

  readonly #tick = (): void => {
    this.#timer = undefined;
    if (this.#stopped) return;
    const { buckets, clock } = this.#options;
    const now = clock.now();
    let planned = this.#schedule.next;
    while (planned <= now && planned < this.#endAtMs) {
      buckets.at(planned).planned++;
      if (this.#inFlight < this.#options.connections) this.#dispatch(planned, now);
      else this.#waiting.push(planned);
      this.#schedule.advance();
      planned = this.#schedule.next;
    }
    if (planned < this.#endAtMs && Number.isFinite(planned)) this.#arm(planned - clock.now());
    else if (!Number.isFinite(planned)) this.#arm(1000);
  };

  #dispatch(planned: number, now: number): void {
    this.#inFlight++;
    this.#options.buckets.at(now).sent++;
    this.#options.sink.send((end) => this.#ended(planned, end));
  }

  #ended(planned: number, end: RequestEnd): void {
    this.#inFlight--;
    if (this.#stopped) return;
    const { buckets, clock, timeoutMs, connections } = this.#options;
    const now = clock.now();
    if (end.kind === "answer") buckets.recordAnswer(now, (now - planned) * 1000, end.statusCode, end.bytesIn);
    else if (end.kind === "timeout") buckets.recordTimeout(now, (now - planned) * 1000);
    else buckets.recordConnectionError(now);
    while (this.#inFlight < connections && this.#waiting.length > 0) {
      const next = this.#waiting.shift()!;
      if (now - next >= timeoutMs) buckets.recordTimeout(now, (now - next) * 1000);
      else this.#dispatch(next, now);
    }
  }
}

import type { Clock } from "./clock.js";
import type { RequestEnd } from "./http-target.js";
import type { SecondBuckets } from "./seconds.js";
import type { RequestSink, Sender } from "./sender.js";

export interface ClosedLoopOptions {
  readonly sink: RequestSink;
  readonly buckets: SecondBuckets;
  readonly clock: Clock;
  readonly endAtMs: number;
}

/**
 * Keeps a fixed number of requests in flight, sending the next as soon as one ends (closed loop, like
 * wrk or ab). Latency runs from each request's actual send: while the target stalls, no request is
 * sent, so the stall shows in only as many requests as were in flight. That is the point of offering
 * it beside the open loop; its results are labelled closed loop everywhere.
 */
export class ClosedLoopSender implements Sender {
  readonly #options: ClosedLoopOptions;
  #concurrency = 0;
  #loops = 0;
  #inFlight = 0;
  #endAtMs: number;
  #stopped = false;

  constructor(options: ClosedLoopOptions) {
    this.#options = options;
    this.#endAtMs = options.endAtMs;
  }

  get inFlight(): number {
    return this.#inFlight;
  }

  get backlog(): number {
    return 0;
  }

  get finished(): boolean {
    return this.#stopped || (this.#options.clock.now() >= this.#endAtMs && this.#inFlight === 0);
  }

  /** Loops beyond `concurrency` end after their current request; missing ones start now. */
  setConcurrency(concurrency: number): void {
    this.#concurrency = concurrency;
    while (this.#loops < concurrency) {
      this.#loops++;
      this.#next(this.#loops - 1);
    }
  }

  setEnd(endAtMs: number): void {
    this.#endAtMs = endAtMs;
  }

  stop(): void {
    this.#stopped = true;
  }

  #next(loop: number): void {
    const { buckets, clock, sink } = this.#options;
    const now = clock.now();
    if (this.#stopped || now >= this.#endAtMs || loop >= this.#concurrency) {
      this.#loops--;
      return;
    }
    const counts = buckets.at(now);
    counts.planned++;
    counts.sent++;
    this.#inFlight++;
    sink.send((end) => this.#ended(loop, now, end));
  }

  #ended(loop: number, sentAt: number, end: RequestEnd): void {
    this.#inFlight--;
    if (this.#stopped) return;
    const { buckets, clock } = this.#options;
    const now = clock.now();
    if (end.kind === "answer") buckets.recordAnswer(now, (now - sentAt) * 1000, end.statusCode, end.bytesIn);
    else if (end.kind === "timeout") buckets.recordTimeout(now, (now - sentAt) * 1000);
    else buckets.recordConnectionError(now);
    // A refused connection ends at once: wait a moment rather than spin on a target that is down.
    if (end.kind === "connection-error") setTimeout(() => this.#next(loop), 10);
    else this.#next(loop);
  }
}

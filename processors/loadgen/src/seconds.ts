import { createLatencyHistogram, encodeLatencyHistogram, recordLatencyUs, type LatencyHistogram } from "@eas/metrics";

/** What one worker counted in one second; requests are counted in the second they ended. */
export interface SecondCounts {
  readonly startMs: number;
  planned: number;
  sent: number;
  completed: number;
  timeouts: number;
  connectionErrors: number;
  bytesIn: number;
  readonly codes: Map<number, number>;
  readonly latency: LatencyHistogram;
}

/** A second's counts, ready to report: the histogram encoded, the codes as a plain record. */
export interface ClosedSecond {
  startMs: number;
  planned: number;
  sent: number;
  completed: number;
  timeouts: number;
  connectionErrors: number;
  bytesIn: number;
  responsesByCode: Record<number, number>;
  latencyHistogramUs: Buffer;
}

/**
 * Counts of the last few seconds, keyed by second. The hot path (one call per request) finds the
 * current second's counts without a map lookup; histograms are reused second after second, so a worker
 * at thousands of requests a second allocates a few objects a second, not a few per request.
 */
export class SecondBuckets {
  readonly #open = new Map<number, SecondCounts>();
  readonly #spare: LatencyHistogram[] = [];
  #current: SecondCounts | undefined;

  /** The counts of the second `atMs` falls in. */
  at(atMs: number): SecondCounts {
    const startMs = Math.floor(atMs / 1000) * 1000;
    const current = this.#current;
    if (current && current.startMs === startMs) return current;
    let counts = this.#open.get(startMs);
    if (!counts) {
      const latency = this.#spare.pop() ?? createLatencyHistogram();
      counts = { startMs, planned: 0, sent: 0, completed: 0, timeouts: 0, connectionErrors: 0, bytesIn: 0, codes: new Map(), latency };
      this.#open.set(startMs, counts);
    }
    if (!current || startMs >= current.startMs) this.#current = counts;
    return counts;
  }

  recordAnswer(atMs: number, latencyUs: number, statusCode: number, bytesIn: number): void {
    const counts = this.at(atMs);
    counts.completed++;
    counts.bytesIn += bytesIn;
    counts.codes.set(statusCode, (counts.codes.get(statusCode) ?? 0) + 1);
    recordLatencyUs(counts.latency, latencyUs);
  }

  /** A request that got no answer in time: counted, and its latency (the wait so far) recorded. */
  recordTimeout(atMs: number, latencyUs: number): void {
    const counts = this.at(atMs);
    counts.completed++;
    counts.timeouts++;
    recordLatencyUs(counts.latency, latencyUs);
  }

  recordConnectionError(atMs: number): void {
    this.at(atMs).connectionErrors++;
  }

  /** Takes out every second that ended before `beforeMs`, oldest first. */
  close(beforeMs: number): ClosedSecond[] {
    const closed: ClosedSecond[] = [];
    for (const startMs of [...this.#open.keys()].sort((a, b) => a - b)) {
      if (startMs + 1000 > beforeMs) continue;
      const counts = this.#open.get(startMs)!;
      this.#open.delete(startMs);
      if (this.#current === counts) this.#current = undefined;
      closed.push({
        startMs,
        planned: counts.planned,
        sent: counts.sent,
        completed: counts.completed,
        timeouts: counts.timeouts,
        connectionErrors: counts.connectionErrors,
        bytesIn: counts.bytesIn,
        responsesByCode: Object.fromEntries(counts.codes),
        latencyHistogramUs: encodeLatencyHistogram(counts.latency),
      });
      counts.latency.reset();
      this.#spare.push(counts.latency);
    }
    return closed;
  }
}

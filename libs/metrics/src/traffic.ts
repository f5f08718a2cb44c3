import type { TrafficStats } from "@eas/proto";
import { createLatencyHistogram, encodeLatencyHistogram, recordLatencyUs, type LatencyHistogram } from "./latency-histogram.js";

/**
 * Counts one interval's traffic for one subject (a service, a version, an instance): requests, codes,
 * bytes and an HDR latency histogram. Reused interval after interval: {@link TrafficRecorder.flush}
 * hands out the stats and starts over, so the hot path allocates nothing per request.
 */
export class TrafficRecorder {
  requests = 0;
  bytesIn = 0;
  bytesOut = 0;
  readonly #codes = new Map<number, number>();
  readonly #latency: LatencyHistogram = createLatencyHistogram();

  record(statusCode: number, latencyUs: number, bytesIn: number, bytesOut: number): void {
    this.requests++;
    this.bytesIn += bytesIn;
    this.bytesOut += bytesOut;
    this.#codes.set(statusCode, (this.#codes.get(statusCode) ?? 0) + 1);
    recordLatencyUs(this.#latency, latencyUs);
  }

  /** The interval's stats, then zero. */
  flush(): TrafficStats {
    const stats: TrafficStats = {
      requests: this.requests,
      responsesByCode: Object.fromEntries(this.#codes),
      bytesIn: this.bytesIn,
      bytesOut: this.bytesOut,
      latencyHistogramUs: encodeLatencyHistogram(this.#latency),
    };
    this.requests = 0;
    this.bytesIn = 0;
    this.bytesOut = 0;
    this.#codes.clear();
    this.#latency.reset();
    return stats;
  }
}

import type { TrafficStats } from "@eas/proto";
import { createLatencyHistogram, encodeLatencyHistogram, recordLatencyUs, type LatencyHistogram } from "./latency-histogram.js";

/** HTTP status codes are counted in an array; anything outside 0..599 (never sent by Node) lands on 0. */
const CODES = 600;

/**
 * Counts one interval's traffic for one subject (an instance, or what a gateway answered itself): requests,
 * codes, bytes and an HDR latency histogram. Reused interval after interval: {@link TrafficRecorder.flush}
 * hands out the stats and starts over, so the hot path allocates nothing per request.
 */
export class TrafficRecorder {
  requests = 0;
  bytesIn = 0;
  bytesOut = 0;
  readonly #codes = new Uint32Array(CODES);
  readonly #latency: LatencyHistogram = createLatencyHistogram();

  record(statusCode: number, latencyUs: number, bytesIn: number, bytesOut: number): void {
    this.requests++;
    this.bytesIn += bytesIn;
    this.bytesOut += bytesOut;
    this.#codes[statusCode >= 0 && statusCode < CODES ? statusCode : 0]!++;
    recordLatencyUs(this.#latency, latencyUs);
  }

  /** The interval's stats, then zero. */
  flush(): TrafficStats {
    const stats = TrafficRecorder.combined([this]);
    this.requests = 0;
    this.bytesIn = 0;
    this.bytesOut = 0;
    this.#codes.fill(0);
    this.#latency.reset();
    return stats;
  }

  /**
   * The stats of several recorders together (every instance of a version, a whole service), histograms
   * merged, without resetting them: a request is recorded once, and the sums are made once a second.
   */
  static combined(recorders: readonly TrafficRecorder[]): TrafficStats {
    const responsesByCode: Record<number, number> = {};
    let requests = 0;
    let bytesIn = 0;
    let bytesOut = 0;
    for (const recorder of recorders) {
      requests += recorder.requests;
      bytesIn += recorder.bytesIn;
      bytesOut += recorder.bytesOut;
      if (recorder.requests === 0) continue;
      const codes = recorder.#codes;
      for (let code = 0; code < CODES; code++) if (codes[code]! > 0) responsesByCode[code] = (responsesByCode[code] ?? 0) + codes[code]!;
    }
    let latency: LatencyHistogram;
    const recorded = recorders.filter((recorder) => recorder.requests > 0);
    if (recorded.length === 1) latency = recorded[0]!.#latency;
    else {
      latency = createLatencyHistogram({ packed: true });
      for (const recorder of recorded) latency.add(recorder.#latency);
    }
    return { requests, responsesByCode, bytesIn, bytesOut, latencyHistogramUs: encodeLatencyHistogram(latency) };
  }
}

import hdr, { type Histogram } from "hdr-histogram-js";
import { LatencyCounts } from "./latency-counts.js";
import { LATENCY_HISTOGRAM_RANGE } from "./latency-shape.js";

export { LATENCY_HISTOGRAM_RANGE };

export type LatencyHistogram = Histogram;

/**
 * A histogram of the wire's shape. `packed` trades some recording speed for memory (a few hundred bytes
 * for a typical distribution instead of ~13 KB): producers on a hot path use the default, accumulators
 * that hold many at once use packed.
 */
export function createLatencyHistogram(options: { packed?: boolean } = {}): LatencyHistogram {
  return hdr.build({ ...LATENCY_HISTOGRAM_RANGE, bitBucketSize: options.packed ? "packed" : 32, useWebAssembly: false });
}

/** Records one latency in microseconds, clamped into the histogram's range (a request cannot take 0 µs or over an hour). */
export function recordLatencyUs(histogram: LatencyHistogram, microseconds: number): void {
  const value = Math.round(microseconds);
  histogram.recordValue(
    value < 1 ? 1 : value > LATENCY_HISTOGRAM_RANGE.highestTrackableValue ? LATENCY_HISTOGRAM_RANGE.highestTrackableValue : value,
  );
}

/** The HdrHistogram V2 compressed encoding (what other languages' `decodeFromCompressedByteBuffer` reads). Empty for an empty histogram. */
export function encodeLatencyHistogram(histogram: LatencyHistogram): Buffer {
  if (histogram.totalCount === 0) return Buffer.alloc(0);
  return Buffer.from(hdr.encodeIntoCompressedBase64(histogram), "base64");
}

/** Decodes the V2 compressed encoding into a packed histogram; an empty input gives an empty histogram. */
export function decodeLatencyHistogram(bytes: Uint8Array): LatencyHistogram {
  if (bytes.length === 0) return createLatencyHistogram({ packed: true });
  return hdr.decodeFromCompressedBase64(Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString("base64"), "packed", false);
}

/**
 * The counts array merges and summaries work in: 26 KB that would otherwise be allocated thousands of times
 * a second. Private to the two functions below, cleared before each use, never handed out.
 */
const scratch = new LatencyCounts();

/** Adds encoded histograms into one, for merging gateways of one second or seconds of one minute. */
export function mergeEncodedLatencies(encoded: readonly Uint8Array[]): Buffer {
  const nonEmpty = encoded.filter((bytes) => bytes.length > 0);
  if (nonEmpty.length === 0) return Buffer.alloc(0);
  if (nonEmpty.length === 1) return Buffer.from(nonEmpty[0]!.buffer, nonEmpty[0]!.byteOffset, nonEmpty[0]!.byteLength);
  scratch.clear();
  for (const bytes of nonEmpty) scratch.addEncoded(bytes);
  return scratch.encode();
}

/** Percentiles and mean of an encoded histogram, in milliseconds; undefined when it is empty. */
export interface LatencySummaryMs {
  count: number;
  mean: number;
  max: number;
  /** Value at each requested percentile (0..100], same order. */
  percentiles: number[];
}

export function summarizeLatency(encoded: Uint8Array, percentiles: readonly number[]): LatencySummaryMs | undefined {
  if (encoded.length === 0) return undefined;
  scratch.clear();
  scratch.addEncoded(encoded);
  if (scratch.total === 0) return undefined;
  return {
    count: scratch.total,
    mean: scratch.mean / 1000,
    max: scratch.max / 1000,
    percentiles: percentiles.map((p) => scratch.valueAtPercentile(p) / 1000),
  };
}

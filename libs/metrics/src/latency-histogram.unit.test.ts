import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { mulberry32 } from "@eas/testing";
import {
  createLatencyHistogram,
  decodeLatencyHistogram,
  encodeLatencyHistogram,
  mergeEncodedLatencies,
  recordLatencyUs,
  summarizeLatency,
} from "./latency-histogram.js";

function encodedOf(values: readonly number[]): Uint8Array {
  const histogram = createLatencyHistogram();
  for (const value of values) recordLatencyUs(histogram, value);
  return encodeLatencyHistogram(histogram);
}

function exactPercentile(sorted: readonly number[], p: number): number {
  return sorted[Math.max(0, Math.ceil((p / 100) * sorted.length) - 1)]!;
}

describe("latency histograms on the wire", () => {
  it("round-trips through the compressed encoding with the same counts", () => {
    const encoded = encodedOf([100, 200, 300, 5_000, 5_000]);
    const decoded = decodeLatencyHistogram(encoded);
    assert.equal(decoded.totalCount, 5);
    assert.ok(Math.abs(decoded.maxValue - 5_000) <= 50);
  });

  it("percentiles of merged histograms match the percentiles of all values within 1%", () => {
    const random = mulberry32(7);
    const parts = [0, 1, 2].map((i) => Array.from({ length: 2_000 }, () => Math.round(1_000 + random() * 50_000 * (i + 1))));
    const merged = mergeEncodedLatencies(parts.map(encodedOf));
    const all = parts.flat().sort((a, b) => a - b);
    const summary = summarizeLatency(merged, [50, 99]);
    assert.ok(summary);
    assert.equal(summary.count, all.length);
    for (const [index, p] of [50, 99].entries()) {
      const exactMs = exactPercentile(all, p) / 1000;
      assert.ok(Math.abs(summary.percentiles[index]! - exactMs) / exactMs < 0.01, `p${p}: ${summary.percentiles[index]} vs ${exactMs}`);
    }
  });

  it("an empty histogram encodes to no bytes and summarizes to nothing", () => {
    assert.equal(encodedOf([]).length, 0);
    assert.equal(summarizeLatency(new Uint8Array(0), [50]), undefined);
    assert.equal(mergeEncodedLatencies([new Uint8Array(0)]).length, 0);
  });

  it("clamps values outside the range instead of throwing", () => {
    const summary = summarizeLatency(encodedOf([0, -5, 1e12]), [100]);
    assert.equal(summary?.count, 3);
    assert.ok(summary!.max >= 3_500_000);
  });
});

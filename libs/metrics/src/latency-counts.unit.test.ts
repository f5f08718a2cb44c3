import assert from "node:assert/strict";
import { describe, it } from "node:test";
import hdr from "hdr-histogram-js";
import { mulberry32 } from "@eas/testing";
import { createLatencyHistogram, decodeLatencyHistogram, encodeLatencyHistogram, recordLatencyUs } from "./latency-histogram.js";
import { LatencyCounts } from "./latency-counts.js";

function histogramOf(values: readonly number[]) {
  const histogram = createLatencyHistogram();
  for (const value of values) recordLatencyUs(histogram, value);
  return histogram;
}

describe("LatencyCounts", () => {
  const random = mulberry32(11);
  const values = Array.from({ length: 5_000 }, () => Math.round(50 + random() ** 3 * 2_000_000));
  const histogram = histogramOf(values);

  it("reads percentiles, max and mean as HdrHistogram does", () => {
    const counts = new LatencyCounts();
    counts.addEncoded(encodeLatencyHistogram(histogram));
    assert.equal(counts.total, histogram.totalCount);
    for (const p of [1, 50, 90, 99, 99.9, 100]) assert.equal(counts.valueAtPercentile(p), histogram.getValueAtPercentile(p), `p${p}`);
    assert.equal(counts.max, histogram.getValueAtPercentile(100));
    assert.ok(Math.abs(counts.mean - histogram.mean) / histogram.mean < 0.01);
  });

  it("writes an encoding the HdrHistogram library reads back to the same distribution", () => {
    const counts = new LatencyCounts();
    counts.addEncoded(encodeLatencyHistogram(histogram));
    const decoded = decodeLatencyHistogram(counts.encode());
    assert.equal(decoded.totalCount, histogram.totalCount);
    for (const p of [50, 99, 100]) assert.equal(decoded.getValueAtPercentile(p), histogram.getValueAtPercentile(p));
  });

  it("merging is adding: the merge of parts equals the histogram of all values", () => {
    const counts = new LatencyCounts();
    for (let part = 0; part < 5; part++)
      counts.addEncoded(encodeLatencyHistogram(histogramOf(values.slice(part * 1_000, (part + 1) * 1_000))));
    for (const p of [50, 95, 99]) assert.equal(counts.valueAtPercentile(p), histogram.getValueAtPercentile(p));
  });

  it("takes a histogram of another shape by re-recording it", () => {
    const foreign = hdr.build({ lowestDiscernibleValue: 1, highestTrackableValue: 60_000_000, numberOfSignificantValueDigits: 3 });
    for (const value of values) foreign.recordValue(value);
    const counts = new LatencyCounts();
    counts.addEncoded(Buffer.from(hdr.encodeIntoCompressedBase64(foreign), "base64"));
    assert.ok(Math.abs(counts.total - values.length) < 1e-6);
    const exact = histogram.getValueAtPercentile(50);
    assert.ok(Math.abs(counts.valueAtPercentile(50) - exact) / exact < 0.02);
  });

  it("an empty set encodes to nothing", () => {
    assert.equal(new LatencyCounts().encode().length, 0);
    assert.equal(new LatencyCounts().valueAtPercentile(50), 0);
  });
});

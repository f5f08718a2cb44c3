import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { summarizeLatency } from "./latency-histogram.js";
import { TrafficRecorder } from "./traffic.js";

describe("TrafficRecorder", () => {
  it("flushes counts, codes, bytes and latencies of the interval, then starts over", () => {
    const recorder = new TrafficRecorder();
    recorder.record(200, 10_000, 100, 1_000);
    recorder.record(200, 20_000, 100, 1_000);
    recorder.record(500, 30_000, 50, 20);
    const stats = recorder.flush();
    assert.deepEqual(
      { requests: stats.requests, codes: stats.responsesByCode, bytesIn: stats.bytesIn, bytesOut: stats.bytesOut },
      { requests: 3, codes: { 200: 2, 500: 1 }, bytesIn: 250, bytesOut: 2_020 },
    );
    const summary = summarizeLatency(stats.latencyHistogramUs, [50]);
    assert.ok(summary && Math.abs(summary.percentiles[0]! - 20) < 0.3);
    const next = recorder.flush();
    assert.equal(next.requests, 0);
    assert.equal(next.latencyHistogramUs.length, 0);
    assert.deepEqual(next.responsesByCode, {});
  });
});

describe("TrafficRecorder.combined", () => {
  it("adds recorders without resetting them", () => {
    const a = new TrafficRecorder();
    const b = new TrafficRecorder();
    a.record(200, 1_000, 1, 2);
    b.record(503, 3_000, 0, 5);
    b.record(200, 5_000, 0, 5);
    const both = TrafficRecorder.combined([a, b]);
    assert.deepEqual([both.requests, both.responsesByCode, both.bytesOut], [3, { 200: 2, 503: 1 }, 12]);
    assert.ok(Math.abs(summarizeLatency(both.latencyHistogramUs, [50])!.percentiles[0]! - 3) < 0.05);
    assert.equal(a.flush().requests, 1);
  });
});

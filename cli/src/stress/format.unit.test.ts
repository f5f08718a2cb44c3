import assert from "node:assert/strict";
import { describe, it } from "node:test";
import type { StressPoint } from "@eas/proto";
import { LIVE_HEADER, liveLine, summaryRows } from "./format.js";

const point: StressPoint = {
  timeMs: Date.UTC(2026, 11, 5, 10, 4, 17),
  targetQps: 500,
  targetConcurrency: 0,
  planned: 500,
  sent: 500,
  completed: 498,
  ok: 497,
  errors: 1,
  responsesByCode: { 200: 497, 503: 1 },
  timeouts: 0,
  connectionErrors: 0,
  p50Ms: 20.61,
  p90Ms: 21,
  p99Ms: 22.9,
  maxMs: 125.4,
  meanMs: 20.8,
  inFlight: 10,
  backlog: 1,
  workers: 2,
  step: 1,
};

describe("stress live view", () => {
  it("one line a second under the header's columns", () => {
    const line = liveLine(point);
    assert.deepEqual(line.trim().split(/ +/), ["10:04:17", "500", "500", "498", "20.6", "22.9", "125", "1", "11", "1"]);
    assert.equal(line.length, LIVE_HEADER.length);
    // Timed-out requests ended but were not served: not achieved.
    assert.equal(
      liveLine({ ...point, timeouts: 8 })
        .trim()
        .split(/ +/)[3],
      "490",
    );
  });
  it("closed loop shows the concurrency asked, and a second without answers shows dashes", () => {
    const { p50Ms: _p50, p99Ms: _p99, maxMs: _max, ...rest } = point;
    const line = liveLine({ ...rest, targetQps: 0, targetConcurrency: 8, completed: 0 });
    assert.match(line, /c=8/);
    assert.match(line, / - +- +- /);
  });
  it("the summary names the knee only when a scan found one", () => {
    const summary = {
      planned: 1,
      sent: 1,
      completed: 1,
      ok: 1,
      errors: 0,
      timeouts: 0,
      connectionErrors: 0,
      responsesByCode: { 200: 1 },
      durationMs: 1000,
      offeredQps: 1,
      achievedQps: 1,
      meanMs: 1,
      p50Ms: 1,
      p90Ms: 1,
      p99Ms: 1,
      p999Ms: 1,
      maxMs: 1,
      closedLoop: false,
      limitReason: "",
      latencyHistogramUs: Buffer.alloc(0),
    };
    assert.ok(!summaryRows(summary).some(([label]) => label === "Knee"));
    assert.ok(summaryRows({ ...summary, kneeQps: 90 }).some(([label, value]) => label === "Knee" && value === "90.0 req/s"));
  });
});

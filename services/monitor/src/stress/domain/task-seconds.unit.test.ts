import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { createLatencyHistogram, encodeLatencyHistogram, recordLatencyUs } from "@eas/metrics";
import type { StressWorkerReport } from "@eas/proto";
import { TaskSeconds } from "./task-seconds.js";

function report(
  workerId: string,
  startMs: number,
  latenciesMs: number[],
  codes: Record<number, number>,
  extra: Partial<StressWorkerReport> = {},
): StressWorkerReport {
  const histogram = createLatencyHistogram();
  for (const ms of latenciesMs) recordLatencyUs(histogram, ms * 1000);
  return {
    taskId: "t1",
    workerId,
    state: "running",
    error: "",
    startMs,
    phase: 1,
    closedLoop: false,
    planned: latenciesMs.length,
    sent: latenciesMs.length,
    completed: latenciesMs.length,
    responsesByCode: codes,
    timeouts: 0,
    connectionErrors: 0,
    latencyHistogramUs: encodeLatencyHistogram(histogram),
    inFlight: 1,
    backlog: 0,
    bytesIn: 0,
    ...extra,
  };
}

describe("task seconds", () => {
  it("merges the workers' histograms of a second: percentiles are those of all requests, not an average of percentiles", () => {
    const seconds = new TaskSeconds();
    // Worker a: 99 fast requests; worker b: 99 fast and 2 slow. Averaging p99s would give ~255 ms; all requests together give 10 ms.
    seconds.add(report("a", 1_000, Array(99).fill(10), { 200: 99 }));
    seconds.add(report("b", 1_000, [...Array(99).fill(10), 500, 500], { 200: 100, 503: 1 }));
    const [second] = seconds.close(2_000);
    const point = seconds.pointOf(second!, { fromMs: 0, load: { rate: 200, concurrency: 0, closedLoop: false }, step: 1 });
    assert.equal(point.completed, 200);
    assert.equal(point.ok, 199);
    assert.equal(point.errors, 1);
    assert.equal(point.workers, 2);
    assert.equal(point.targetQps, 200);
    assert.ok(Math.abs(point.p99Ms! - 10) < 0.2, `p99 ${point.p99Ms}`);
    assert.ok(Math.abs(point.maxMs! - 500) < 5, `max ${point.maxMs}`);
  });

  it("closes each second once; a late report still counts in the steps and the summary", () => {
    const seconds = new TaskSeconds();
    seconds.add(report("a", 1_000, [10, 10], { 200: 2 }));
    assert.equal(seconds.close(1_500).length, 0);
    assert.equal(seconds.close(2_000).length, 1);
    assert.equal(seconds.close(2_000).length, 0);
    seconds.add(report("b", 1_000, [900], { 200: 1 }));
    const figures = seconds.figures(1_000, 2_000);
    assert.equal(figures.completed, 3);
    assert.ok(figures.maxMs >= 890);
    const summary = seconds.summary(1_000, 1_000, false);
    assert.equal(summary.completed, 3);
    assert.equal(summary.achievedQps, 3);
    assert.ok(summary.latencyHistogramUs.length > 0);
  });

  it("counts timeouts and connection failures as errors", () => {
    const seconds = new TaskSeconds();
    seconds.add(report("a", 0, [10, 10, 5_000], { 200: 2 }, { timeouts: 1, connectionErrors: 2 }));
    const figures = seconds.figures(0, 1_000);
    assert.equal(figures.errors, 3);
    assert.equal(figures.connectionErrors, 2);
  });

  it("achieved counts the answers only: a timed-out request was not served", () => {
    const seconds = new TaskSeconds();
    seconds.add(report("a", 0, [10, 10, 10, 5_000], { 200: 2, 503: 1 }, { timeouts: 1 }));
    seconds.add(report("a", 1_000, [10, 5_000, 5_000, 5_000], { 200: 1 }, { timeouts: 3 }));
    assert.equal(seconds.figures(0, 2_000).achievedQps, 2);
    const summary = seconds.summary(0, 2_000, false);
    assert.equal(summary.completed, 8);
    assert.equal(summary.achievedQps, 2);
  });
});

import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { ValidationError } from "@eas/decider";
import type { QuerySeriesRequest, SeriesPoint } from "@eas/proto";
import { evaluateQuery, planQuery, type QueryContext } from "./query.js";
import { completesMinute, rollupMinute } from "./rollup.js";
import { SecondAggregator } from "./second-aggregator.js";
import { gatewaySample, traffic } from "./test-support.js";

const MINUTE = 1_700_000_040_000; // a whole minute
const context: QueryContext = {
  nowMs: MINUTE + 120_000,
  closedThroughMs: MINUTE + 119_000,
  secondRetentionMs: 3_600_000,
  minuteRetentionMs: 30 * 86_400_000,
  knownService: (s) => s === "svc",
};
const request = (overrides: Partial<QuerySeriesRequest>): QuerySeriesRequest => ({
  service: "svc",
  metrics: ["qps"],
  fromMs: MINUTE,
  toMs: MINUTE + 60_000,
  stepSeconds: 0,
  version: 0,
  instanceId: "",
  breakdown: "",
  ...overrides,
});

/** One point per second of the minute: `perSecond(i)` latencies in ms, answered 200 (and 500 for odd seconds' last one). */
function minuteOfPoints(perSecond: (second: number) => number[]): SeriesPoint[] {
  const aggregator = new SecondAggregator(MINUTE);
  const points: SeriesPoint[] = [];
  for (let s = 0; s < 60; s++) {
    const startMs = MINUTE + s * 1000;
    const latencies = perSecond(s);
    if (latencies.length > 0) {
      aggregator.addGateway(gatewaySample({ service: "svc", startMs, total: traffic(latencies), versions: { 1: traffic(latencies) } }));
    }
    points.push(...aggregator.close(startMs, { instancesReady: () => 1 }));
  }
  return points;
}

function violationPaths(run: () => unknown): string[] {
  try {
    run();
  } catch (error) {
    if (error instanceof ValidationError) return error.violations.map((v) => v.path);
    throw error;
  }
  assert.fail("expected a ValidationError");
}

describe("planQuery", () => {
  const cases: { name: string; overrides: Partial<QuerySeriesRequest>; paths: string[] }[] = [
    { name: "unknown service", overrides: { service: "nope" }, paths: ["service"] },
    { name: "no service", overrides: { service: "" }, paths: ["service"] },
    { name: "unknown metric", overrides: { metrics: ["qps", "p42"] }, paths: ["metrics[1]"] },
    { name: "no metric", overrides: { metrics: [] }, paths: ["metrics"] },
    { name: "an empty range", overrides: { fromMs: MINUTE, toMs: MINUTE }, paths: ["from_ms"] },
    { name: "a step between 1 and 2 minutes", overrides: { stepSeconds: 90 }, paths: ["step_seconds"] },
    { name: "seconds older than an hour", overrides: { fromMs: MINUTE - 7_200_000, stepSeconds: 1 }, paths: ["from_ms"] },
    { name: "a service-only metric per version", overrides: { metrics: ["queued"], breakdown: "version" }, paths: ["metrics"] },
    { name: "a bad breakdown", overrides: { breakdown: "node" }, paths: ["breakdown"] },
    { name: "a version and an instance", overrides: { version: 1, instanceId: "x" }, paths: ["instance_id"] },
  ];
  for (const { name, overrides, paths } of cases) {
    it(`rejects ${name}, naming ${paths.join(", ")}`, () => {
      assert.deepEqual(
        violationPaths(() => planQuery(request(overrides), context)),
        paths,
      );
    });
  }

  it("picks 1-second points for a recent range and 1-minute points for an old one", () => {
    assert.equal(planQuery(request({}), context).tier, "1s");
    const old = planQuery(request({ fromMs: MINUTE - 7_200_000, toMs: MINUTE }), context);
    assert.deepEqual([old.tier, old.stepMs], ["1m", 60_000]);
  });

  it("stops at the last closed step", () => {
    const plan = planQuery(request({ fromMs: MINUTE, toMs: MINUTE + 600_000, stepSeconds: 60 }), context);
    assert.equal(plan.toMs, MINUTE + 60_000);
  });
});

describe("evaluateQuery", () => {
  it("gives a rate per second for each step, 0 where nothing happened, and no latency there", () => {
    const points = minuteOfPoints((s) => (s < 30 ? [10, 10] : []));
    const plan = planQuery(request({ metrics: ["qps", "p50"], stepSeconds: 10 }), context);
    const [qps, p50] = evaluateQuery(plan, points);
    assert.deepEqual(
      qps!.points.map((p) => p.value),
      [2, 2, 2, 0, 0, 0],
    );
    assert.equal(p50!.points.length, 3);
  });

  it("a step's percentile comes from the merged histogram, not from the seconds' percentiles", () => {
    // 59 seconds of one fast request, one second of 200 slow ones: the minute's p50 is slow,
    // while the median of the seconds' p50s would be fast.
    const points = minuteOfPoints((s) => (s === 0 ? Array.from({ length: 200 }, () => 100) : [1]));
    const plan = planQuery(request({ metrics: ["p50"], stepSeconds: 60, fromMs: MINUTE, toMs: MINUTE + 60_000 }), {
      ...context,
      knownService: () => true,
    });
    const [p50] = evaluateQuery({ ...plan, tier: "1s" }, points);
    assert.ok(p50!.points[0]!.value > 99, `p50 ${p50!.points[0]!.value}`);
  });

  it("one series per version with breakdown=version", () => {
    const points = minuteOfPoints(() => [5]);
    const series = evaluateQuery(planQuery(request({ breakdown: "version", stepSeconds: 60 }), context), points);
    assert.deepEqual(
      series.map((s) => [s.metric, s.version, s.points.length]),
      [["qps", 1, 1]],
    );
  });
});

describe("rollupMinute", () => {
  it("merges the minute's seconds into one point whose rates and percentiles match the seconds'", () => {
    const points = minuteOfPoints((s) => [s + 1]);
    const minute = rollupMinute("svc", MINUTE, points)!;
    assert.equal(minute.durationMs, 60_000);
    const plan = planQuery(request({ metrics: ["qps", "rt_max", "instances_ready"], stepSeconds: 60 }), context);
    const [qps, max, ready] = evaluateQuery(plan, [minute]);
    assert.equal(qps!.points[0]!.value, 1);
    assert.ok(Math.abs(max!.points[0]!.value - 60) < 0.6);
    assert.equal(ready!.points[0]!.value, 1);
    assert.equal(completesMinute(MINUTE + 59_000), true);
    assert.equal(completesMinute(MINUTE + 58_000), false);
  });
});

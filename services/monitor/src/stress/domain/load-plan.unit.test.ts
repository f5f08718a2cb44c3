import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { errorRatio, firstLoad, nextLoad, verdictOf, type PlanDecision, type StepFigures } from "./load-plan.js";
import { specOf, stepsOf } from "./test-support.js";

const figures = (overrides: Partial<StepFigures>): StepFigures => ({
  sent: 1_000,
  completed: 1_000,
  errors: 0,
  connectionErrors: 0,
  achievedQps: 200,
  p50Ms: 10,
  p99Ms: 40,
  maxMs: 80,
  ...overrides,
});

describe("step verdict", () => {
  const spec = specOf({ maxRtMs: 100, faultTolerate: 0.01 });
  for (const [when, given, expected] of [
    ["under both limits", figures({}), "ok"],
    ["p99 above maxRT", figures({ p99Ms: 101 }), "latency"],
    ["p99 at maxRT exactly", figures({ p99Ms: 100 }), "ok"],
    ["errors above faultTolerate (they win over latency)", figures({ errors: 11, p99Ms: 500 }), "errors"],
    ["errors at faultTolerate exactly", figures({ errors: 10 }), "ok"],
    ["connection failures count as errors", figures({ completed: 980, errors: 20, connectionErrors: 20 }), "errors"],
    ["nothing ended although requests were sent: a stall", figures({ completed: 0 }), "latency"],
  ] as const) {
    it(`${when}: ${expected}`, () => assert.equal(verdictOf(spec, given), expected));
  }
  it("without maxRT, latency never fails a step", () => assert.equal(verdictOf(specOf({ maxRtMs: 0 }), figures({ p99Ms: 10_000 })), "ok"));
  it("error ratio is errors over everything that ended", () =>
    assert.equal(errorRatio({ completed: 90, errors: 20, connectionErrors: 10 }), 0.2));
});

describe("scan: step up until a limit, report the knee", () => {
  const scan = specOf({ mode: "scan", minQps: 100, maxQps: 400, qpsGrowthDelta: 50, maxRtMs: 100 });
  const cases: Array<{ when: string; steps: ReturnType<typeof stepsOf>; spec?: ReturnType<typeof specOf>; then: PlanDecision }> = [
    { when: "no step yet", steps: [], then: { kind: "change", load: { rate: 100, concurrency: 0, closedLoop: false } } },
    {
      when: "a step passed",
      steps: stepsOf([100, "ok"]),
      then: { kind: "change", load: { rate: 150, concurrency: 0, closedLoop: false } },
    },
    {
      when: "the next step would pass maxQPS",
      steps: stepsOf([300, "ok"], [380, "ok"]),
      then: { kind: "change", load: { rate: 400, concurrency: 0, closedLoop: false } },
    },
    {
      when: "maxQPS passed",
      steps: stepsOf([350, "ok"], [400, "ok"]),
      then: { kind: "finish", reason: "reached maxQPS 400 req/s without passing a limit", kneeQps: 400 },
    },
    {
      when: "latency failed after passes",
      steps: stepsOf([100, "ok"], [150, "ok"], [200, "latency"]),
      then: {
        kind: "finish",
        reason: "limit found: p99 500.0 ms above maxRT 100 ms at 200 req/s",
        kneeQps: 150,
        limitQps: 200,
        limitReason: "latency",
      },
    },
    {
      when: "errors failed after passes",
      steps: stepsOf([100, "ok"], [150, "errors"]),
      then: {
        kind: "finish",
        reason: "limit found: error ratio 5.00% above faultTolerate 0.10% at 150 req/s",
        kneeQps: 100,
        limitQps: 150,
        limitReason: "errors",
      },
    },
    {
      when: "the first step failed",
      steps: stepsOf([100, "latency"]),
      then: {
        kind: "finish",
        reason: "the first step already failed: p99 500.0 ms above maxRT 100 ms at 100 req/s",
        limitQps: 100,
        limitReason: "latency",
      },
    },
    {
      when: "revise: a limit found settles on the knee",
      spec: { ...scan, faultAction: "revise" },
      steps: stepsOf([100, "ok"], [150, "latency"]),
      then: { kind: "change", load: { rate: 100, concurrency: 0, closedLoop: false } },
    },
    {
      when: "revise: soaking at the knee holds",
      spec: { ...scan, faultAction: "revise" },
      steps: stepsOf([100, "ok"], [150, "latency"], [100, "ok"]),
      then: { kind: "hold" },
    },
  ];
  for (const { when, steps, spec, then } of cases) it(when, () => assert.deepEqual(nextLoad(spec ?? scan, steps), then));
});

describe("auto: double, then bisect", () => {
  const auto = specOf({ mode: "auto", minQps: 100, maxQps: 10_000, qpsGrowthDelta: 10, maxRtMs: 100 });
  const cases: Array<[string, ReturnType<typeof stepsOf>, PlanDecision]> = [
    [
      "doubles while steps pass",
      stepsOf([100, "ok"], [200, "ok"]),
      { kind: "change", load: { rate: 400, concurrency: 0, closedLoop: false } },
    ],
    [
      "bisects after the first failure",
      stepsOf([100, "ok"], [200, "ok"], [400, "latency"]),
      { kind: "change", load: { rate: 300, concurrency: 0, closedLoop: false } },
    ],
    [
      "narrows from above",
      stepsOf([100, "ok"], [200, "ok"], [400, "latency"], [300, "errors"]),
      { kind: "change", load: { rate: 250, concurrency: 0, closedLoop: false } },
    ],
    [
      "narrows from below",
      stepsOf([100, "ok"], [200, "ok"], [400, "latency"], [300, "ok"]),
      { kind: "change", load: { rate: 350, concurrency: 0, closedLoop: false } },
    ],
    [
      "stops once pass and failure are within 5% (or the delta)",
      stepsOf([100, "ok"], [200, "ok"], [400, "latency"], [300, "ok"], [350, "latency"], [325, "ok"], [337.5, "latency"]),
      {
        kind: "finish",
        reason: "limit found: p99 500.0 ms above maxRT 100 ms at 337.5 req/s",
        kneeQps: 325,
        limitQps: 337.5,
        limitReason: "latency",
      },
    ],
  ];
  for (const [when, steps, then] of cases) it(when, () => assert.deepEqual(nextLoad(auto, steps), then));
});

describe("fixed rate and fixed concurrency", () => {
  it("manual holds while windows pass", () => assert.deepEqual(nextLoad(specOf({ qps: 500 }), stepsOf([500, "ok"])), { kind: "hold" }));
  it("manual with stop ends on a failed window", () => {
    const decision = nextLoad(specOf({ qps: 500 }), stepsOf([500, "errors"]));
    assert.equal(decision.kind, "finish");
  });
  it("manual with revise lowers the rate by the delta, not below minQPS", () => {
    const spec = specOf({ qps: 500, faultAction: "revise", qpsGrowthDelta: 100, minQps: 450 });
    assert.deepEqual(nextLoad(spec, stepsOf([500, "errors"])), { kind: "change", load: { rate: 450, concurrency: 0, closedLoop: false } });
    assert.deepEqual(nextLoad(spec, stepsOf([500, "errors"], [450, "errors"])), { kind: "hold" });
  });
  it("the first load of each mode", () => {
    assert.deepEqual(firstLoad(specOf({ qps: 500 })), { rate: 500, concurrency: 0, closedLoop: false });
    assert.deepEqual(firstLoad(specOf({ mode: "scan", minQps: 50 })), { rate: 50, concurrency: 0, closedLoop: false });
    assert.deepEqual(firstLoad(specOf({ mode: "concurrency", concurrency: 8 })), { rate: 0, concurrency: 8, closedLoop: true });
  });
  it("concurrency holds, and stops on a failed window with stop", () => {
    const spec = specOf({ mode: "concurrency" });
    assert.deepEqual(nextLoad(spec, stepsOf([0, "ok"])), { kind: "hold" });
    assert.equal(nextLoad(spec, stepsOf([0, "errors"])).kind, "finish");
  });
});

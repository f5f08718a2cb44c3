import { describe, it } from "node:test";
import assert from "node:assert/strict";
import type { QuerySeriesResponse, Series } from "@eas/proto";
import { failedGatesText, judgeWindow } from "./gates.js";
import { JUDGE_DELAY_MS, measureWindow, nextAnalysisAction, SETTLE_MS, windowQuery } from "./release-analysis.js";
import { DEFAULT_GATES, normalizePlan } from "./release-plan.js";
import type { CanaryState, PlanState } from "./traffic.js";

const figures = (requests: number, errorRatio: number, p99Ms?: number) => ({ version: 0, requests, errorRatio, p99Ms });

describe("release gates", () => {
  const cases: {
    name: string;
    canary: ReturnType<typeof figures>;
    stable: ReturnType<typeof figures>;
    before?: number;
    verdict: string;
    failed?: string;
  }[] = [
    { name: "a canary like the stable passes", canary: figures(100, 0.005, 10), stable: figures(900, 0, 9), verdict: "pass" },
    {
      name: "a canary failing 20% fails error_ratio",
      canary: figures(100, 0.2, 10),
      stable: figures(900, 0, 9),
      verdict: "fail",
      failed: "error_ratio",
    },
    { name: "a slow canary fails p99", canary: figures(100, 0, 40), stable: figures(900, 0, 10), verdict: "fail", failed: "p99" },
    { name: "the p99 slack spares a 1 ms against 2 ms", canary: figures(100, 0, 2), stable: figures(900, 0, 1), verdict: "pass" },
    { name: "too few canary requests is inconclusive", canary: figures(20, 0.5, 10), stable: figures(900, 0, 9), verdict: "inconclusive" },
    {
      name: "too few requests windows in a row fail min_requests",
      canary: figures(20, 0, 10),
      stable: figures(900, 0, 9),
      before: 2,
      verdict: "fail",
      failed: "min_requests",
    },
  ];
  for (const c of cases) {
    it(c.name, () => {
      const judged = judgeWindow(DEFAULT_GATES, c.canary, c.stable, c.before ?? 0);
      assert.equal(judged.verdict, c.verdict);
      const failed = judged.gates.filter((g) => g.outcome === "fail").map((g) => g.gate);
      assert.deepEqual(failed, c.failed ? [c.failed] : []);
      if (c.failed) assert.match(failedGatesText(judged.gates), new RegExp(`gate ${c.failed} failed: `));
    });
  }
  it("records the numbers a failed gate was judged on", () => {
    const judged = judgeWindow(DEFAULT_GATES, figures(100, 0.2, 10), figures(900, 0.01, 9), 0);
    const gate = judged.gates.find((g) => g.gate === "error_ratio")!;
    assert.deepEqual([gate.canaryValue, gate.stableValue, gate.limit], [0.2, 0.01, 0.02]);
  });
});

describe("release analysis", () => {
  const recorded = normalizePlan({
    steps: [
      { weight: 10, bakeSeconds: 10 },
      { weight: 100, bakeSeconds: 0 },
    ],
    gates: undefined,
    readyTimeoutSeconds: 60,
  }).plan;
  const START = Date.parse("2026-12-04T10:00:03.000Z");
  const canary: CanaryState = { version: 2, weight: 10, replicas: 0, cause: "release plan", startedAt: new Date(START).toISOString() };
  const planAt = (step: number, measurements: PlanState["measurements"] = []): PlanState => ({
    plan: recorded,
    startedAt: new Date(START).toISOString(),
    step,
    stepStartedAt: step > 0 ? new Date(START).toISOString() : "",
    inconclusive: 0,
    measurements,
  });
  const input = (plan: PlanState, nowMs: number, canaryReady = 1) => ({
    plan,
    canary,
    canaryReady,
    canaryNotReadyReason: "crashed",
    nowMs,
  });

  it("starts the first step once the canary has a Ready instance", () => {
    assert.equal(nextAnalysisAction(input(planAt(0), START, 0)).kind, "wait");
    assert.equal(nextAnalysisAction(input(planAt(0), START + 1_000, 1)).kind, "start-first-step");
  });
  it("rolls back a canary never Ready within the plan's timeout, saying why", () => {
    const action = nextAnalysisAction(input(planAt(0), START + 60_000, 0));
    assert.deepEqual(action, { kind: "abort", reason: "the canary had no Ready instance within 60 s: crashed" });
  });
  it("judges the first whole window aligned on the bake time, once the monitor closed it", () => {
    // Step started at :03; settled at :04; the first 10 s window from then is [:10, :20).
    const from = Date.parse("2026-12-04T10:00:10.000Z");
    assert.ok(START + SETTLE_MS <= from);
    assert.equal(nextAnalysisAction(input(planAt(1), from + 10_000 + JUDGE_DELAY_MS - 1)).kind, "wait");
    assert.deepEqual(nextAnalysisAction(input(planAt(1), from + 10_000 + JUDGE_DELAY_MS)), {
      kind: "judge",
      step: 1,
      windowFromMs: from,
      windowToMs: from + 10_000,
    });
  });
  it("after an inconclusive window, judges the next one", () => {
    const first = { windowFrom: "2026-12-04T10:00:10.000Z", windowTo: "2026-12-04T10:00:20.000Z", step: 1, verdict: "inconclusive" };
    const action = nextAnalysisAction(
      input(planAt(1, [first as PlanState["measurements"][number]]), Date.parse("2026-12-04T10:00:40.000Z")),
    );
    assert.equal(action.kind === "judge" && new Date(action.windowFromMs).toISOString(), "2026-12-04T10:00:20.000Z");
  });

  const series = (version: number, metric: string, value: number): Series => ({
    metric,
    unit: "",
    version,
    instanceId: "",
    points: [{ timeMs: 0, value }],
  });
  const window = { windowFromMs: 10_000, windowToMs: 20_000 };
  const answer = (toMs: number): QuerySeriesResponse => ({
    service: "iris",
    fromMs: 10_000,
    toMs,
    stepSeconds: 10,
    series: [
      series(1, "qps", 90),
      series(1, "error_ratio", 0),
      series(1, "p99", 4),
      series(2, "qps", 10),
      series(2, "error_ratio", 0.2),
      series(2, "p99", 5),
    ],
  });
  it("asks the monitor for both versions over the window, one point wide", () => {
    const query = windowQuery("iris", window.windowFromMs, window.windowToMs);
    assert.deepEqual([query.breakdown, query.stepSeconds, query.fromMs, query.toMs], ["version", 10, 10_000, 20_000]);
  });
  it("judges the canary against the stable version from the monitor's series", () => {
    const measured = measureWindow(answer(20_000), window, { canary: 2, stable: 1 }, DEFAULT_GATES, 0);
    assert.deepEqual(measured?.canary, { version: 2, requests: 100, errorRatio: 0.2, p99Ms: 5 });
    assert.deepEqual(measured?.stable, { version: 1, requests: 900, errorRatio: 0, p99Ms: 4 });
    assert.equal(measured?.verdict, "fail");
  });
  it("waits while the monitor has not closed the whole window", () => {
    assert.equal(measureWindow(answer(10_000), window, { canary: 2, stable: 1 }, DEFAULT_GATES, 0), undefined);
  });
  it("counts a version without series as no requests", () => {
    const measured = measureWindow({ ...answer(20_000), series: [] }, window, { canary: 2, stable: 1 }, DEFAULT_GATES, 0);
    assert.deepEqual(measured?.canary, { version: 2, requests: 0, errorRatio: 0, p99Ms: undefined });
    assert.equal(measured?.verdict, "inconclusive");
  });
});

import type { StressStep, StressTaskSpec } from "@eas/proto";

/** What the workers do during a step: a rate (open loop) or requests in flight (closed loop). */
export interface StepLoad {
  rate: number;
  concurrency: number;
  closedLoop: boolean;
}

/** A step's measured figures, merged from every worker's histograms. */
export interface StepFigures {
  sent: number;
  /** Answered (any status) or timed out. */
  completed: number;
  errors: number;
  connectionErrors: number;
  achievedQps: number;
  p50Ms: number;
  p99Ms: number;
  maxMs: number;
}

export type Verdict = "ok" | "latency" | "errors";

/** What to do after a step. */
export type PlanDecision =
  | { kind: "hold" }
  | { kind: "change"; load: StepLoad }
  | { kind: "finish"; reason: string; kneeQps?: number; limitQps?: number; limitReason?: Verdict };

/** Errors over everything that ended (answers, timeouts, connection failures). */
export function errorRatio(figures: Pick<StepFigures, "completed" | "errors" | "connectionErrors">): number {
  const ended = figures.completed + figures.connectionErrors;
  return ended === 0 ? 0 : figures.errors / ended;
}

/**
 * Whether a step passed: errors above `faultTolerate` fail it first, then a p99 above `maxRT` (when one
 * is set). A step that sent requests and saw none end has failed on latency: the target stalled.
 */
export function verdictOf(spec: Pick<StressTaskSpec, "faultTolerate" | "maxRtMs">, figures: StepFigures): Verdict {
  if (errorRatio(figures) > spec.faultTolerate) return "errors";
  if (figures.sent > 0 && figures.completed + figures.connectionErrors === 0) return "latency";
  if (spec.maxRtMs > 0 && figures.p99Ms > spec.maxRtMs) return "latency";
  return "ok";
}

/** The load of the first step. */
export function firstLoad(spec: StressTaskSpec): StepLoad {
  if (spec.mode === "concurrency") return { rate: 0, concurrency: spec.concurrency, closedLoop: true };
  if (spec.mode === "scan" || spec.mode === "auto") return { rate: spec.minQps, concurrency: 0, closedLoop: false };
  return { rate: spec.qps, concurrency: 0, closedLoop: false };
}

const round = (rate: number) => Math.round(rate * 100) / 100;

function explain(verdict: Verdict, step: StressStep, spec: StressTaskSpec): string {
  return verdict === "errors"
    ? `error ratio ${(step.errorRatio * 100).toFixed(2)}% above faultTolerate ${(spec.faultTolerate * 100).toFixed(2)}% at ${round(step.offeredQps)} req/s`
    : `p99 ${step.p99Ms.toFixed(1)} ms above maxRT ${spec.maxRtMs} ms at ${round(step.offeredQps)} req/s`;
}

/**
 * Decides what follows the steps so far (the last one just ended), per mode:
 *
 * - manual (fixed rate): hold the rate; a failed window with faultAction "stop" ends the task, with
 *   "revise" lowers the rate by qpsGrowthDelta (not below minQPS, nor to 0).
 * - concurrency (closed loop): hold; a failed window with "stop" ends the task.
 * - scan: from minQPS, add qpsGrowthDelta each step up to maxQPS; the first failed step ends the scan:
 *   its rate is the limit and the last passed step's rate the knee. With "revise" the task then holds the
 *   knee rate until its duration ends (a soak at the knee).
 * - auto: double from minQPS until a step fails, then bisect between the last pass and the first failure
 *   until they are within qpsGrowthDelta (or 5%) of each other; the knee is the highest pass.
 *
 * Pure: the same steps always give the same decision.
 */
export function nextLoad(spec: StressTaskSpec, steps: readonly StressStep[]): PlanDecision {
  const last = steps.at(-1);
  if (!last) return { kind: "change", load: firstLoad(spec) };
  const verdict = last.verdict as Verdict;
  switch (spec.mode) {
    case "concurrency":
      if (verdict !== "ok" && spec.faultAction === "stop")
        return { kind: "finish", reason: `fault tolerance exceeded: ${explain(verdict, last, spec)}` };
      return { kind: "hold" };
    case "scan":
      return nextScanLoad(spec, steps, last, verdict);
    case "auto":
      return nextAutoLoad(spec, steps);
    default: {
      if (verdict === "ok") return { kind: "hold" };
      if (spec.faultAction === "stop") return { kind: "finish", reason: `fault tolerance exceeded: ${explain(verdict, last, spec)}` };
      const lowered = Math.max(spec.minQps > 0 ? spec.minQps : spec.qpsGrowthDelta, last.offeredQps - spec.qpsGrowthDelta);
      return lowered < last.offeredQps
        ? { kind: "change", load: { rate: round(lowered), concurrency: 0, closedLoop: false } }
        : { kind: "hold" };
    }
  }
}

function nextScanLoad(spec: StressTaskSpec, steps: readonly StressStep[], last: StressStep, verdict: Verdict): PlanDecision {
  const firstFailure = steps.find((step) => step.verdict !== "ok");
  const passedBefore = (rate: number) => steps.filter((s) => s.verdict === "ok" && s.offeredQps < rate).map((s) => s.offeredQps);
  if (firstFailure && firstFailure !== last) return { kind: "hold" }; // revise: soaking at the knee
  if (verdict !== "ok") {
    const passed = passedBefore(last.offeredQps);
    const knee = passed.length > 0 ? Math.max(...passed) : undefined;
    const found = {
      ...(knee === undefined ? {} : { kneeQps: knee }),
      limitQps: last.offeredQps,
      limitReason: verdict,
    };
    const why = explain(verdict, last, spec);
    if (spec.faultAction === "revise" && knee !== undefined) {
      return { kind: "change", load: { rate: knee, concurrency: 0, closedLoop: false } };
    }
    return { kind: "finish", reason: knee === undefined ? `the first step already failed: ${why}` : `limit found: ${why}`, ...found };
  }
  if (last.offeredQps >= spec.maxQps) {
    return { kind: "finish", reason: `reached maxQPS ${spec.maxQps} req/s without passing a limit`, kneeQps: last.offeredQps };
  }
  return {
    kind: "change",
    load: { rate: round(Math.min(last.offeredQps + spec.qpsGrowthDelta, spec.maxQps)), concurrency: 0, closedLoop: false },
  };
}

function nextAutoLoad(spec: StressTaskSpec, steps: readonly StressStep[]): PlanDecision {
  const passed = steps.filter((s) => s.verdict === "ok").map((s) => s.offeredQps);
  const good = passed.length > 0 ? Math.max(...passed) : undefined;
  const failures = steps.filter((s) => s.verdict !== "ok" && (good === undefined || s.offeredQps > good));
  const firstBad = failures.length > 0 ? failures.reduce((a, b) => (b.offeredQps < a.offeredQps ? b : a)) : undefined;
  if (good === undefined) {
    return firstBad
      ? {
          kind: "finish",
          reason: `the first step already failed: ${explain(firstBad.verdict as Verdict, firstBad, spec)}`,
          limitQps: firstBad.offeredQps,
          limitReason: firstBad.verdict as Verdict,
        }
      : { kind: "change", load: firstLoad(spec) };
  }
  if (!firstBad) {
    if (good >= spec.maxQps)
      return { kind: "finish", reason: `reached maxQPS ${spec.maxQps} req/s without passing a limit`, kneeQps: good };
    return { kind: "change", load: { rate: round(Math.min(good * 2, spec.maxQps)), concurrency: 0, closedLoop: false } };
  }
  const resolution = Math.max(spec.qpsGrowthDelta, good * 0.05);
  if (firstBad.offeredQps - good <= resolution) {
    return {
      kind: "finish",
      reason: `limit found: ${explain(firstBad.verdict as Verdict, firstBad, spec)}`,
      kneeQps: good,
      limitQps: firstBad.offeredQps,
      limitReason: firstBad.verdict as Verdict,
    };
  }
  return { kind: "change", load: { rate: round((good + firstBad.offeredQps) / 2), concurrency: 0, closedLoop: false } };
}

import type { QuerySeriesRequest, QuerySeriesResponse, ReleaseGates, Series, VersionFigures } from "@eas/proto";
import { judgeWindow, type WindowJudgement } from "./gates.js";
import type { CanaryState, PlanState } from "./traffic.js";

/** After a step's weight is recorded, the gateway applies it within 100 ms: windows start a second later. */
export const SETTLE_MS = 1_000;
/**
 * After a window ends, the monitor closes its last second 500 ms later (`EAS_MONITOR_FINALIZE_DELAY_MS`) from the
 * samples gateways publish each second: the window is asked for this long after its end (and asked again while
 * the monitor has not closed it).
 */
export const JUDGE_DELAY_MS = 1_500;

/** The monitor's metrics a window is judged on. */
export const ANALYSIS_METRICS = ["qps", "error_ratio", "p99"] as const;

export type AnalysisAction =
  | { kind: "wait"; reason: string }
  | { kind: "start-first-step" }
  | { kind: "abort"; reason: string }
  | { kind: "judge"; step: number; windowFromMs: number; windowToMs: number };

export interface AnalysisInput {
  plan: PlanState;
  canary: CanaryState;
  /** Ready instances of the canary's version now. */
  canaryReady: number;
  /** Why the canary is not Ready, for a rollback's reason. */
  canaryNotReadyReason: string;
  nowMs: number;
}

/**
 * What the release analyser does next for one plan, from the plan's state alone (so a restarted deployer resumes
 * where the log says it was):
 *
 * - before the first step: start it once the canary has a Ready instance; roll back when none is Ready within the
 *   plan's Ready timeout;
 * - during a step of bake time B: judge the first window [kB, (k+1)B) (aligned on B, as the monitor's steps are)
 *   that starts at least {@link SETTLE_MS} after the step's weight took effect and after the step's last judged
 *   window, once it ended {@link JUDGE_DELAY_MS} ago. A step is therefore judged between B and 2B + 1 s after it
 *   starts; an inconclusive window is followed by the next one.
 */
export function nextAnalysisAction(input: AnalysisInput): AnalysisAction {
  const { plan, nowMs } = input;
  if (plan.step === 0) {
    if (input.canaryReady > 0) return { kind: "start-first-step" };
    const timeoutMs = (plan.plan.readyTimeoutSeconds ?? 0) * 1000;
    if (nowMs - Date.parse(plan.startedAt) >= timeoutMs) {
      const why = input.canaryNotReadyReason ? `: ${input.canaryNotReadyReason}` : "";
      return { kind: "abort", reason: `the canary had no Ready instance within ${plan.plan.readyTimeoutSeconds} s${why}` };
    }
    return { kind: "wait", reason: "waiting for a Ready canary instance" };
  }
  const step = plan.plan.steps[plan.step - 1];
  if (!step) return { kind: "wait", reason: `the plan has no step ${plan.step}` };
  const bakeMs = step.bakeSeconds * 1000;
  const lastOfStep = plan.measurements.filter((m) => m.step === plan.step).at(-1);
  const earliest = Math.max(Date.parse(plan.stepStartedAt) + SETTLE_MS, lastOfStep ? Date.parse(lastOfStep.windowTo) : 0);
  const windowFromMs = Math.ceil(earliest / bakeMs) * bakeMs;
  const windowToMs = windowFromMs + bakeMs;
  if (nowMs < windowToMs + JUDGE_DELAY_MS) return { kind: "wait", reason: `baking until ${new Date(windowToMs).toISOString()}` };
  return { kind: "judge", step: plan.step, windowFromMs, windowToMs };
}

/** The monitor query for a window: both versions' figures, one point as wide as the window. */
export function windowQuery(service: string, windowFromMs: number, windowToMs: number): QuerySeriesRequest {
  return {
    service,
    metrics: [...ANALYSIS_METRICS],
    fromMs: windowFromMs,
    toMs: windowToMs,
    stepSeconds: Math.round((windowToMs - windowFromMs) / 1000),
    version: 0,
    instanceId: "",
    breakdown: "version",
  };
}

/**
 * One version's figures over a window from the monitor's `QuerySeries` answer (breakdown "version", metrics qps,
 * error_ratio and p99, one step as wide as the window). A version without requests in the window has no series or
 * no points: 0 requests, no p99.
 */
export function figuresOf(series: readonly Series[], version: number, windowSeconds: number): VersionFigures {
  const value = (metric: string) => series.find((s) => s.version === version && s.metric === metric)?.points[0]?.value;
  const qps = value("qps") ?? 0;
  return {
    version,
    requests: Math.round(qps * windowSeconds),
    errorRatio: value("error_ratio") ?? 0,
    p99Ms: value("p99"),
  };
}

export interface WindowMeasurement extends WindowJudgement {
  canary: VersionFigures;
  stable: VersionFigures;
}

/**
 * Judges a window from the monitor's answer, or undefined while the monitor has not closed the whole window yet
 * (its answer stops short of `windowToMs`): the analyser asks again rather than judge a partial window.
 */
export function measureWindow(
  answer: QuerySeriesResponse,
  window: { windowFromMs: number; windowToMs: number },
  versions: { canary: number; stable: number },
  gates: Required<ReleaseGates>,
  inconclusiveBefore: number,
): WindowMeasurement | undefined {
  if (answer.toMs < window.windowToMs) return undefined;
  const seconds = (window.windowToMs - window.windowFromMs) / 1000;
  const canary = figuresOf(answer.series, versions.canary, seconds);
  const stable = figuresOf(answer.series, versions.stable, seconds);
  return { canary, stable, ...judgeWindow(gates, canary, stable, inconclusiveBefore) };
}

import type { GateResult, ReleaseGates, VersionFigures } from "@eas/proto";

export type Verdict = "pass" | "fail" | "inconclusive";

export interface WindowJudgement {
  verdict: Verdict;
  gates: GateResult[];
}

const percent = (ratio: number) => `${(ratio * 100).toFixed(1)}%`;
const ms = (value: number) => `${value.toFixed(1)} ms`;

/**
 * The minimum request count: both versions must have answered `minRequests` in the window, or nothing is
 * judged (a p99 of 12 requests says little; a stable version without traffic is no baseline). A window
 * without enough is "no data"; once `maxInconclusiveWindows` such windows come in a row the gate fails.
 */
function minRequestsGate(
  gates: Required<ReleaseGates>,
  canary: VersionFigures,
  stable: VersionFigures,
  inconclusiveBefore: number,
): GateResult {
  const least = Math.min(canary.requests, stable.requests);
  const enough = least >= gates.minRequests;
  const windows = inconclusiveBefore + 1;
  const givingUp = !enough && windows >= gates.maxInconclusiveWindows;
  const short = canary.requests < gates.minRequests ? "canary" : "stable";
  return {
    gate: "min_requests",
    outcome: enough ? "pass" : givingUp ? "fail" : "no_data",
    canaryValue: canary.requests,
    stableValue: stable.requests,
    limit: gates.minRequests,
    detail: enough
      ? `canary ${canary.requests} and stable ${stable.requests} requests >= ${gates.minRequests}`
      : `${short} answered ${least} requests < ${gates.minRequests}` +
        (givingUp
          ? ` in ${windows} window${windows === 1 ? "" : "s"} in a row`
          : ` (window ${windows} of ${gates.maxInconclusiveWindows})`),
  };
}

/** Canary error ratio (5xx share) not above the stable's plus `maxErrorRatioIncrease`. */
function errorRatioGate(gates: Required<ReleaseGates>, canary: VersionFigures, stable: VersionFigures): GateResult {
  const limit = stable.errorRatio + gates.maxErrorRatioIncrease;
  const pass = canary.errorRatio <= limit + 1e-12;
  return {
    gate: "error_ratio",
    outcome: pass ? "pass" : "fail",
    canaryValue: canary.errorRatio,
    stableValue: stable.errorRatio,
    limit,
    detail: `canary ${percent(canary.errorRatio)} ${pass ? "<=" : ">"} stable ${percent(stable.errorRatio)} + ${percent(gates.maxErrorRatioIncrease)}`,
  };
}

/** Canary p99 not above the stable's times `maxP99Ratio` plus `p99SlackMs` (the slack keeps 1 ms against 2 ms from failing). */
function p99Gate(gates: Required<ReleaseGates>, canary: VersionFigures, stable: VersionFigures): GateResult {
  if (canary.p99Ms === undefined || stable.p99Ms === undefined) {
    return {
      gate: "p99",
      outcome: "no_data",
      canaryValue: canary.p99Ms ?? 0,
      stableValue: stable.p99Ms ?? 0,
      limit: 0,
      detail: `no p99 for the ${canary.p99Ms === undefined ? "canary" : "stable version"} in the window`,
    };
  }
  const limit = stable.p99Ms * gates.maxP99Ratio + gates.p99SlackMs;
  const pass = canary.p99Ms <= limit;
  return {
    gate: "p99",
    outcome: pass ? "pass" : "fail",
    canaryValue: canary.p99Ms,
    stableValue: stable.p99Ms,
    limit,
    detail: `canary ${ms(canary.p99Ms)} ${pass ? "<=" : ">"} stable ${ms(stable.p99Ms)} x ${gates.maxP99Ratio} + ${ms(gates.p99SlackMs)}`,
  };
}

/**
 * Judges one analysis window of a step: the canary against the stable version over the same window. Without
 * enough requests on both sides the window is inconclusive (the next window of the step is judged) until
 * `maxInconclusiveWindows` in a row fail the step; otherwise any failed gate fails it and all passing passes it.
 */
export function judgeWindow(
  gates: Required<ReleaseGates>,
  canary: VersionFigures,
  stable: VersionFigures,
  inconclusiveBefore: number,
): WindowJudgement {
  const minimum = minRequestsGate(gates, canary, stable, inconclusiveBefore);
  if (minimum.outcome !== "pass") {
    const notJudged = (gate: string): GateResult => ({
      gate,
      outcome: "no_data",
      canaryValue: 0,
      stableValue: 0,
      limit: 0,
      detail: "not judged: too few requests",
    });
    return { verdict: minimum.outcome === "fail" ? "fail" : "inconclusive", gates: [minimum, notJudged("error_ratio"), notJudged("p99")] };
  }
  const judged = [minimum, errorRatioGate(gates, canary, stable), p99Gate(gates, canary, stable)];
  if (judged.some((g) => g.outcome === "fail")) return { verdict: "fail", gates: judged };
  // Both versions answered requests, so both have a p99; "no data" here would be a monitor without latencies.
  if (judged.some((g) => g.outcome === "no_data")) return { verdict: "inconclusive", gates: judged };
  return { verdict: "pass", gates: judged };
}

/** The failed gates of a judgement in words, for the rollback's reason: "gate error_ratio failed: canary 20.3% > ...". */
export function failedGatesText(gates: readonly GateResult[]): string {
  return gates
    .filter((g) => g.outcome === "fail")
    .map((g) => `gate ${g.gate} failed: ${g.detail}`)
    .join("; ");
}

import type { FieldViolation } from "@eas/decider";
import { webhookUrlProblem } from "@eas/contracts";
import type { CreateAlertRuleRequest } from "@eas/proto";
import { findMetric } from "./metrics.js";

export const COMPARISONS = [">", ">=", "<", "<="] as const;
export type Comparison = (typeof COMPARISONS)[number];

/** Longest window a rule may wait for: one day (longer conditions belong to reports, not alerts). */
export const MAX_WINDOW_SECONDS = 86_400;

/** Checks a rule as asked for; `knownService` is the monitor's view of the log. Returns every bad field. */
export function ruleViolations(request: CreateAlertRuleRequest, knownService: (name: string) => boolean): FieldViolation[] {
  const violations: FieldViolation[] = [];
  if (!request.service) violations.push({ path: "service", message: "is required" });
  else if (!knownService(request.service)) violations.push({ path: "service", message: `unknown service "${request.service}"` });
  if (!request.metric) violations.push({ path: "metric", message: "is required" });
  else if (!findMetric(request.metric)) violations.push({ path: "metric", message: `unknown metric "${request.metric}"` });
  if (!(COMPARISONS as readonly string[]).includes(request.comparison)) {
    violations.push({ path: "comparison", message: `must be one of ${COMPARISONS.join(" ")}, got "${request.comparison}"` });
  }
  if (!Number.isFinite(request.threshold)) violations.push({ path: "threshold", message: "must be a finite number" });
  if (request.windowSeconds < 1) violations.push({ path: "window_seconds", message: "must be at least 1 second" });
  else if (request.windowSeconds > MAX_WINDOW_SECONDS) {
    violations.push({ path: "window_seconds", message: `must be at most ${MAX_WINDOW_SECONDS} (one day)` });
  }
  if (request.webhookUrl) {
    const problem = webhookUrlProblem(request.webhookUrl);
    if (problem) violations.push({ path: "webhook_url", message: problem });
  }
  if (request.description.length > 500) violations.push({ path: "description", message: "must be at most 500 characters" });
  return violations;
}

export function holds(comparison: Comparison, value: number, threshold: number): boolean {
  switch (comparison) {
    case ">":
      return value > threshold;
    case ">=":
      return value >= threshold;
    case "<":
      return value < threshold;
    case "<=":
      return value <= threshold;
  }
}

/** What the evaluator remembers of a rule between seconds (in memory: a restart starts the window over). */
export interface RuleProgress {
  /** Start of the first second of the current run of seconds where the condition held. */
  holdingSinceMs: number | undefined;
  /** End of the last second in which the metric had a value. */
  lastValueMs: number | undefined;
}

export const NO_PROGRESS: RuleProgress = { holdingSinceMs: undefined, lastValueMs: undefined };

export interface RuleEvaluation {
  comparison: Comparison;
  threshold: number;
  windowSeconds: number;
  /** Whether the log shows the rule firing now. */
  firing: boolean;
  progress: RuleProgress;
  /** Start of the second just closed. */
  secondMs: number;
  /** The metric in that second; undefined when it has none (no requests for a latency or a ratio). */
  value: number | undefined;
}

export type Transition = "fire" | "resolve";

/**
 * One second of a rule, `metric comparison threshold for window`: it fires once the condition has held at
 * every second with a value for the window, and resolves at the first second with a value where it does
 * not. A second without a value (no requests: no latency, no error ratio) changes nothing, so a quiet
 * second neither breaks a run nor ends an episode; but a whole window without any value ends both.
 */
export function evaluateRule(input: RuleEvaluation): { progress: RuleProgress; transition?: Transition } {
  const endMs = input.secondMs + 1000;
  const windowMs = input.windowSeconds * 1000;
  if (input.value === undefined) {
    const lastValueMs = input.progress.lastValueMs ?? input.secondMs;
    const stale = endMs - lastValueMs >= windowMs;
    if (!stale) return { progress: { ...input.progress, lastValueMs } };
    const progress = { holdingSinceMs: undefined, lastValueMs };
    return input.firing ? { progress, transition: "resolve" } : { progress };
  }
  if (!holds(input.comparison, input.value, input.threshold)) {
    const progress = { holdingSinceMs: undefined, lastValueMs: endMs };
    return input.firing ? { progress, transition: "resolve" } : { progress };
  }
  const holdingSinceMs = input.progress.holdingSinceMs ?? input.secondMs;
  const progress = { holdingSinceMs, lastValueMs: endMs };
  if (!input.firing && endMs - holdingSinceMs >= windowMs) return { progress, transition: "fire" };
  return { progress };
}

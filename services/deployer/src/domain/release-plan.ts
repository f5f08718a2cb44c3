import type { FieldViolation } from "@eas/decider";
import type { ReleaseGates, ReleasePlan, ReleaseStep } from "@eas/proto";

/** Gates every plan gets where it names none (Flagger's 99 % success and SageMaker's bake-then-judge, kept loose on p99). */
export const DEFAULT_GATES: Required<ReleaseGates> = {
  maxErrorRatioIncrease: 0.01,
  maxP99Ratio: 1.5,
  p99SlackMs: 5,
  minRequests: 50,
  maxInconclusiveWindows: 3,
};
export const DEFAULT_READY_TIMEOUT_SECONDS = 300;

/** A step's window: the monitor's step, so under a minute or whole minutes (1-minute points). */
function bakeViolation(seconds: number): string | undefined {
  if (seconds < 1) return "must be at least 1 second";
  if (seconds >= 60 && seconds % 60 !== 0) return `from 60 on, must be whole minutes (the monitor's 1-minute points), got ${seconds}`;
  if (seconds > 3600) return "must be at most 3600 (one hour)";
  return undefined;
}

/** The steps that are baked and judged: every step but a last one at 100 %, which is the promotion itself. */
export function judgedSteps(plan: ReleasePlan): ReleaseStep[] {
  const last = plan.steps.at(-1);
  return last?.weight === 100 ? plan.steps.slice(0, -1) : plan.steps;
}

/**
 * Checks a release plan and fills its defaults: weights rise step by step from 1 to 99, with 100 allowed only as
 * the last step (meaning "promote"); bake times fit the monitor's steps; gates and the Ready timeout are in
 * range. Every bad field is named (`plan.steps[1].weight`), so the API answers INVALID_ARGUMENT with nothing written.
 */
export function normalizePlan(plan: ReleasePlan): { plan: ReleasePlan; violations: FieldViolation[] } {
  const violations: FieldViolation[] = [];
  const steps = plan.steps.map((s) => ({ weight: s.weight, bakeSeconds: s.bakeSeconds }));
  if (steps.length === 0) violations.push({ path: "plan.steps", message: "name at least one step" });
  steps.forEach((step, index) => {
    const path = `plan.steps[${index}]`;
    const last = index === steps.length - 1;
    if (step.weight < 1 || step.weight > 100) violations.push({ path: `${path}.weight`, message: `must be 1 to 100, got ${step.weight}` });
    else if (step.weight === 100 && !last)
      violations.push({ path: `${path}.weight`, message: "100 (the promotion) may only be the last step" });
    const previous = steps[index - 1];
    if (previous && step.weight <= previous.weight) {
      violations.push({ path: `${path}.weight`, message: `must be above the previous step's ${previous.weight}` });
    }
    const bake = bakeViolation(step.bakeSeconds);
    if (bake && step.weight !== 100) violations.push({ path: `${path}.bake_seconds`, message: bake });
  });
  if (steps.length === 1 && steps[0]!.weight === 100) {
    violations.push({ path: "plan.steps", message: "a plan needs a step below 100 to judge (100 alone is a promotion)" });
  }

  const gates = planGates(plan);
  const range = (path: string, value: number, ok: boolean, message: string) => {
    if (!ok || !Number.isFinite(value)) violations.push({ path: `plan.gates.${path}`, message: `${message}, got ${value}` });
  };
  range(
    "max_error_ratio_increase",
    gates.maxErrorRatioIncrease,
    gates.maxErrorRatioIncrease >= 0 && gates.maxErrorRatioIncrease <= 1,
    "must be 0 to 1",
  );
  range("max_p99_ratio", gates.maxP99Ratio, gates.maxP99Ratio > 0, "must be above 0");
  range("p99_slack_ms", gates.p99SlackMs, gates.p99SlackMs >= 0, "must not be negative");
  range("min_requests", gates.minRequests, gates.minRequests >= 1, "must be at least 1");
  range("max_inconclusive_windows", gates.maxInconclusiveWindows, gates.maxInconclusiveWindows >= 1, "must be at least 1");
  const readyTimeoutSeconds = plan.readyTimeoutSeconds ?? DEFAULT_READY_TIMEOUT_SECONDS;
  if (readyTimeoutSeconds < 1 || readyTimeoutSeconds > 86_400) {
    violations.push({ path: "plan.ready_timeout_seconds", message: `must be 1 to 86400, got ${readyTimeoutSeconds}` });
  }
  return { plan: { steps, gates, readyTimeoutSeconds }, violations };
}

/** A recorded plan's gates with every default filled in (ReleasePlanStarted records them filled; this keeps old plans judged alike). */
export function planGates(plan: ReleasePlan): Required<ReleaseGates> {
  const given: Partial<ReleaseGates> = plan.gates ?? {};
  return {
    maxErrorRatioIncrease: given.maxErrorRatioIncrease ?? DEFAULT_GATES.maxErrorRatioIncrease,
    maxP99Ratio: given.maxP99Ratio ?? DEFAULT_GATES.maxP99Ratio,
    p99SlackMs: given.p99SlackMs ?? DEFAULT_GATES.p99SlackMs,
    minRequests: given.minRequests ?? DEFAULT_GATES.minRequests,
    maxInconclusiveWindows: given.maxInconclusiveWindows ?? DEFAULT_GATES.maxInconclusiveWindows,
  };
}

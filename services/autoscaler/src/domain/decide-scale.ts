import type { MetricReading } from "@eas/proto";
import type { LoadHistory, WindowLoad } from "./load-history.js";
import { METRIC_TARGETS, type MetricName, type ResolvedPolicy } from "./policy.js";

/** Why the count changes (or would): the `mode` of a ScaleDecided event. */
export type ScaleMode = "stable" | "panic" | "to-zero" | "from-zero" | "bounds";

/** Everything one decision reads. Time comes in; nothing here reads a clock. */
export interface ScaleInputs {
  policy: ResolvedPolicy;
  history: LoadHistory;
  /** The replica count the deployer holds now. */
  current: number;
  /** Instances Ready now. */
  ready: number;
  /** CPU cores each instance requests (metadata.cpu), for the CPU target. */
  cpuCoresPerInstance: number;
  /** The floor the latest cron run set (0: none). */
  cronFloor: number;
  /** The end of the last closed second (a multiple of 1000): windows end here. */
  nowMs: number;
  /** Since when this autoscaler has received samples: a window is never longer than what it has seen. */
  observingSinceMs: number;
  /** The last time a gateway said a request is waiting for a service at zero (0: never). */
  wokenAtMs: number;
}

/** What a controller keeps between decisions on one service (in memory; rebuilt empty after a restart). */
export interface ScalerMemory {
  /** Panic mode lasts until then (0: not panicking). */
  panicUntilMs: number;
  /** Recent recommendations, oldest first, for the stabilization windows. */
  recommendations: { atMs: number; replicas: number }[];
}

export const freshMemory = (): ScalerMemory => ({ panicUntilMs: 0, recommendations: [] });

export interface ScaleDecision {
  /** The count to ask the deployer for; equal to `inputs.current` when nothing changes. */
  desired: number;
  mode: ScaleMode;
  /** In words, e.g. "qps 480 over 2 instances, target 100 -> 5"; empty when nothing changes. */
  reason: string;
  /** The stable window's readings (the panic window's in panic mode). */
  readings: MetricReading[];
  memory: ScalerMemory;
}

const ceilRatio = (observed: number, target: number) => Math.max(0, Math.ceil(observed / target - 1e-9));

/**
 * One metric's recommendation: ceil(observed / target), or the current count when the observed load per
 * instance is within the tolerance of the target. Because of the ceiling a scale-in lands where the load per
 * instance is at most the target, and a scale-out needs it above target x (1 + tolerance): the gap keeps a
 * steady load from flipping the count.
 */
function reading(metric: MetricName, observed: number, target: number, current: number, tolerance: number, seconds: number): MetricReading {
  const ratio = current > 0 ? observed / (current * target) : Number.POSITIVE_INFINITY;
  const desired = current > 0 && Math.abs(ratio - 1) <= tolerance ? current : ceilRatio(observed, target);
  return { metric, observed, target, windowSeconds: seconds, desired };
}

/** The readings of every metric the policy targets that the window has data for. */
export function readWindow(policy: ResolvedPolicy, window: WindowLoad, current: number, cpuCoresPerInstance: number): MetricReading[] {
  const readings: MetricReading[] = [];
  for (const { metric, key } of METRIC_TARGETS) {
    const target = policy[key];
    if (target <= 0) continue;
    let observed: number | undefined;
    if (metric === "qps") observed = window.qps;
    else if (metric === "concurrency") observed = window.concurrency;
    else if (metric === "backlog") observed = window.backlog;
    // CPU samples are percent of one core; the target is percent of what an instance requests.
    else if (window.cpuPercent !== undefined) observed = window.cpuPercent / Math.max(cpuCoresPerInstance, 0.001);
    if (observed === undefined) continue;
    readings.push(reading(metric, observed, target, current, policy.tolerance, window.seconds));
  }
  return readings;
}

const most = (readings: MetricReading[]) =>
  readings.reduce<MetricReading | undefined>((a, b) => (!a || b.desired > a.desired ? b : a), undefined);

function round(value: number): string {
  return Number.isInteger(value) ? String(value) : value >= 100 ? value.toFixed(0) : value >= 10 ? value.toFixed(1) : value.toFixed(2);
}

/** "qps 480 over 2 instances, target 100 -> 5" */
export function describeReading(r: MetricReading, current: number): string {
  const instances = `${current} instance${current === 1 ? "" : "s"}`;
  // CPU reads best per instance ("cpu 90% on average over 3 instances"); the others as the service's total.
  if (r.metric === "cpu") {
    return `cpu ${round(r.observed / Math.max(current, 1))}% on average over ${instances}, target ${round(r.target)}% -> ${r.desired}`;
  }
  return `${r.metric} ${round(r.observed)} over ${instances}, target ${round(r.target)} -> ${r.desired}`;
}

/**
 * The autoscaling decision: a pure function of the policy, the recent load, the current count and the time.
 *
 * 1. Each targeted metric asks for ceil(observed / target) over the stable window and over the panic window
 *    (tolerance: within it, the current count).
 * 2. Panic: when the panic window asks for `panic_threshold` times the Ready instances, panic mode lasts a
 *    stable window from then on: the count follows the panic window up and never goes down.
 * 3. Otherwise the stable window's recommendation, clamped to [min (or the cron floor), max]; a service
 *    idle for the whole grace period goes to 0 when min is 0; one at 0 wakes on the first sign of demand.
 * 4. Stabilization: up only as far as every recommendation of the scale-up window agrees, down no lower than
 *    the highest of the scale-down window; no scale-in before a full window has been observed.
 * 5. Bounded steps: at most max(scale_up_max_instances, scale_up_max_percent) added and
 *    max(1, scale_down_max_percent) removed per decision.
 */
export function decideScale(inputs: ScaleInputs, memory: ScalerMemory): ScaleDecision {
  const { policy: p, current, ready, nowMs } = inputs;
  const observedSeconds = Math.max(0, Math.floor((nowMs - inputs.observingSinceMs) / 1000));
  const span = (seconds: number) => Math.max(1, Math.min(seconds, observedSeconds));
  const stableWindow = inputs.history.window(nowMs, span(p.stableWindowSeconds));
  const panicWindow = inputs.history.window(nowMs, span(p.panicWindowSeconds));
  const stable = readWindow(p, stableWindow, current, inputs.cpuCoresPerInstance);
  const panic = readWindow(p, panicWindow, current, inputs.cpuCoresPerInstance);
  const stableTop = most(stable);
  const panicTop = most(panic);
  const desiredStable = stableTop?.desired ?? current;
  const desiredPanic = panicTop?.desired ?? current;

  const floor = Math.min(Math.max(p.minReplicas, inputs.cronFloor), p.maxReplicas);
  const woken = inputs.wokenAtMs > 0 && inputs.wokenAtMs >= nowMs - p.panicWindowSeconds * 1000;
  const demandNow = !panicWindow.idle || woken;

  let panicUntilMs = memory.panicUntilMs;
  if (current > 0 && desiredPanic >= p.panicThreshold * Math.max(ready, 1) && desiredPanic > ready) {
    panicUntilMs = nowMs + p.stableWindowSeconds * 1000;
  }
  const panicking = nowMs < panicUntilMs;

  // The recommendation before stabilization and step bounds.
  let mode: ScaleMode;
  let recommended: number;
  let readings = stable;
  let cause: MetricReading | undefined = stableTop;
  const idleWindow = inputs.history.window(nowMs, p.scaleToZeroGraceSeconds);
  const idleLongEnough = floor === 0 && observedSeconds >= p.scaleToZeroGraceSeconds && idleWindow.idle && !woken;
  if (current === 0) {
    // At zero the latest second alone: a burst of held requests is not averaged away.
    mode = "from-zero";
    readings = readWindow(p, inputs.history.window(nowMs, 1), current, inputs.cpuCoresPerInstance);
    cause = most(readings);
    recommended = demandNow ? Math.max(p.activationReplicas, cause?.desired ?? 0, floor) : floor;
  } else if (idleLongEnough) {
    mode = "to-zero";
    recommended = 0;
  } else if (panicking) {
    mode = "panic";
    recommended = Math.max(current, desiredPanic);
    readings = panic;
    cause = panicTop;
  } else {
    mode = "stable";
    recommended = desiredStable;
  }
  const lower = mode === "to-zero" ? 0 : Math.max(floor, current > 0 || demandNow ? 1 : 0);
  recommended = Math.min(Math.max(recommended, lower), p.maxReplicas);

  const keepMs = Math.max(p.scaleUpStabilizationSeconds, p.scaleDownStabilizationSeconds) * 1000;
  const recommendations = [...memory.recommendations.filter((r) => r.atMs > nowMs - keepMs), { atMs: nowMs, replicas: recommended }];
  const within = (seconds: number) => recommendations.filter((r) => r.atMs > nowMs - seconds * 1000 || r.atMs === nowMs);
  const nextMemory: ScalerMemory = { panicUntilMs: panicking ? panicUntilMs : 0, recommendations };
  const unchanged = (): ScaleDecision => ({ desired: current, mode, reason: "", readings, memory: nextMemory });

  // Outside the bounds (a new policy, a cron floor): straight to the nearest bound.
  if (current > p.maxReplicas || current < floor) {
    const desired = current > p.maxReplicas ? p.maxReplicas : floor;
    const reason =
      current > p.maxReplicas
        ? `above max ${p.maxReplicas} -> ${desired}`
        : inputs.cronFloor > p.minReplicas
          ? `below the cron floor ${floor} -> ${desired}`
          : `below min ${p.minReplicas} -> ${desired}`;
    return { desired, mode: "bounds", reason, readings, memory: nextMemory };
  }

  let desired = recommended;
  const notes: string[] = [];
  if (recommended > current) {
    const agreed = Math.min(...within(p.scaleUpStabilizationSeconds).map((r) => r.replicas));
    desired = Math.max(current, agreed);
    const step = current + Math.max(p.scaleUpMaxInstances, Math.ceil((current * p.scaleUpMaxPercent) / 100));
    if (desired > step) {
      desired = step;
      notes.push(`step limit +${step - current}`);
    }
  } else if (recommended < current) {
    if (panicking) return unchanged();
    if (mode !== "to-zero") {
      // A new autoscaler (or a new policy) has not seen a whole window yet: it does not scale in on it.
      if (observedSeconds < Math.max(p.stableWindowSeconds, p.scaleDownStabilizationSeconds)) return unchanged();
      desired = Math.min(current, Math.max(...within(p.scaleDownStabilizationSeconds).map((r) => r.replicas)));
      const step = current - Math.max(1, Math.floor((current * p.scaleDownMaxPercent) / 100));
      if (desired < step) {
        desired = step;
        notes.push(`step limit -${current - step}`);
      }
    }
  }
  if (desired === current) return unchanged();

  let reason: string;
  if (mode === "to-zero") reason = `idle for ${p.scaleToZeroGraceSeconds}s (no request, nothing in flight or queued) -> 0`;
  else if (mode === "from-zero") {
    reason =
      cause && cause.desired >= desired
        ? describeReading(cause, current)
        : `demand at zero (${woken ? "a request is held" : "load seen"}) -> ${desired}`;
  } else if (cause && cause.desired !== current) reason = describeReading(cause, current);
  else reason = `${mode} -> ${desired}`;
  if (mode === "panic") reason = `panic: ${reason}`;
  if (desired !== recommended && notes.length === 0 && mode !== "to-zero") notes.push(`stabilized from ${recommended}`);
  if (notes.length > 0) reason += ` (${notes.join(", ")}; now ${desired})`;
  return { desired, mode, reason, readings, memory: nextMemory };
}

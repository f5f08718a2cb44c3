import type { FieldViolation } from "@eas/decider";
import type { ScalingPolicy } from "@eas/proto";
import { MAX_INSTANCES } from "@eas/service-spec";

/** A policy with every knob set: what the autoscaler applies and what its events record. */
export type ResolvedPolicy = { [K in keyof ScalingPolicy]-?: number };

/**
 * Defaults of every knob (docs/autoscaling.md explains each against Knative, the HPA and EAS). The short
 * panic window is what lets a load step add an instance within about a second of the step; the rest keep
 * scale-in unhurried and the count still under a steady load.
 */
export const POLICY_DEFAULTS: ResolvedPolicy = {
  minReplicas: 1,
  maxReplicas: 10,
  targetQps: 0,
  targetCpuPercent: 0,
  targetConcurrency: 0,
  targetBacklog: 0,
  stableWindowSeconds: 30,
  panicWindowSeconds: 2,
  panicThreshold: 2,
  tolerance: 0.1,
  scaleUpStabilizationSeconds: 0,
  scaleDownStabilizationSeconds: 30,
  scaleToZeroGraceSeconds: 60,
  activationReplicas: 1,
  scaleUpMaxInstances: 4,
  scaleUpMaxPercent: 100,
  scaleDownMaxPercent: 50,
};

/** Field names as the API spells them (snake_case), for error messages. */
const FIELD: Record<keyof ResolvedPolicy, string> = {
  minReplicas: "min_replicas",
  maxReplicas: "max_replicas",
  targetQps: "target_qps",
  targetCpuPercent: "target_cpu_percent",
  targetConcurrency: "target_concurrency",
  targetBacklog: "target_backlog",
  stableWindowSeconds: "stable_window_seconds",
  panicWindowSeconds: "panic_window_seconds",
  panicThreshold: "panic_threshold",
  tolerance: "tolerance",
  scaleUpStabilizationSeconds: "scale_up_stabilization_seconds",
  scaleDownStabilizationSeconds: "scale_down_stabilization_seconds",
  scaleToZeroGraceSeconds: "scale_to_zero_grace_seconds",
  activationReplicas: "activation_replicas",
  scaleUpMaxInstances: "scale_up_max_instances",
  scaleUpMaxPercent: "scale_up_max_percent",
  scaleDownMaxPercent: "scale_down_max_percent",
};

/** The API's name of a policy field, e.g. "min_replicas". */
export const policyFieldName = (key: keyof ResolvedPolicy): string => FIELD[key];

/** Longest window: one hour (beyond it a schedule, not a window, is the tool). */
const MAX_WINDOW_SECONDS = 3_600;

type Range = { min: number; max: number; integer: boolean; exclusiveMin?: boolean };
const RANGES: Record<keyof ResolvedPolicy, Range> = {
  minReplicas: { min: 0, max: MAX_INSTANCES, integer: true },
  maxReplicas: { min: 1, max: MAX_INSTANCES, integer: true },
  targetQps: { min: 0, max: 1e9, integer: false },
  targetCpuPercent: { min: 0, max: 100_000, integer: false },
  targetConcurrency: { min: 0, max: 1e6, integer: false },
  targetBacklog: { min: 0, max: 1e9, integer: false },
  stableWindowSeconds: { min: 1, max: MAX_WINDOW_SECONDS, integer: true },
  panicWindowSeconds: { min: 1, max: MAX_WINDOW_SECONDS, integer: true },
  panicThreshold: { min: 1, max: 100, integer: false, exclusiveMin: true },
  tolerance: { min: 0, max: 0.9, integer: false },
  scaleUpStabilizationSeconds: { min: 0, max: MAX_WINDOW_SECONDS, integer: true },
  scaleDownStabilizationSeconds: { min: 0, max: MAX_WINDOW_SECONDS, integer: true },
  scaleToZeroGraceSeconds: { min: 1, max: 86_400, integer: true },
  activationReplicas: { min: 1, max: MAX_INSTANCES, integer: true },
  scaleUpMaxInstances: { min: 1, max: MAX_INSTANCES, integer: true },
  scaleUpMaxPercent: { min: 1, max: 10_000, integer: false },
  scaleDownMaxPercent: { min: 1, max: 100, integer: false },
};

/** The metrics a policy can target, with the knob of each. */
export const METRIC_TARGETS = [
  { metric: "qps", key: "targetQps" },
  { metric: "cpu", key: "targetCpuPercent" },
  { metric: "concurrency", key: "targetConcurrency" },
  { metric: "backlog", key: "targetBacklog" },
] as const satisfies readonly { metric: string; key: keyof ResolvedPolicy }[];
export type MetricName = (typeof METRIC_TARGETS)[number]["metric"];

export type PolicyResolution = { ok: true; policy: ResolvedPolicy } | { ok: false; violations: FieldViolation[] };

/**
 * Fills the defaults of `input` and checks every field: ranges, min <= max, at least one target, the panic
 * window shorter than the stable window. Every bad field is named; a policy with any is refused whole.
 */
export function resolvePolicy(input: ScalingPolicy, prefix = "policy"): PolicyResolution {
  const violations: FieldViolation[] = [];
  const policy = { ...POLICY_DEFAULTS };
  for (const key of Object.keys(POLICY_DEFAULTS) as (keyof ResolvedPolicy)[]) {
    const value = input[key];
    if (value === undefined || value === null) continue;
    const range = RANGES[key];
    const path = `${prefix}.${FIELD[key]}`;
    if (typeof value !== "number" || !Number.isFinite(value)) violations.push({ path, message: "must be a finite number" });
    else if (range.integer && !Number.isInteger(value)) violations.push({ path, message: "must be a whole number" });
    else if (range.exclusiveMin ? value <= range.min : value < range.min) {
      violations.push({ path, message: `must be ${range.exclusiveMin ? "greater than" : "at least"} ${range.min}, got ${value}` });
    } else if (value > range.max) violations.push({ path, message: `must be at most ${range.max}, got ${value}` });
    else policy[key] = value;
  }
  if (violations.length > 0) return { ok: false, violations };
  if (policy.minReplicas > policy.maxReplicas) {
    violations.push({
      path: `${prefix}.min_replicas`,
      message: `must not exceed max_replicas (min ${policy.minReplicas} > max ${policy.maxReplicas})`,
    });
  }
  if (METRIC_TARGETS.every(({ key }) => policy[key] === 0)) {
    violations.push({
      path: `${prefix}.target_qps`,
      message: "at least one target is required: target_qps, target_cpu_percent, target_concurrency or target_backlog",
    });
  }
  if (policy.panicWindowSeconds > policy.stableWindowSeconds) {
    violations.push({
      path: `${prefix}.panic_window_seconds`,
      message: `must not exceed stable_window_seconds (${policy.panicWindowSeconds} > ${policy.stableWindowSeconds})`,
    });
  }
  return violations.length > 0 ? { ok: false, violations } : { ok: true, policy };
}

/** "min 1, max 10, qps 100/instance, cpu 70%": a policy in one line. */
export function describePolicy(policy: ResolvedPolicy): string {
  const targets = [
    policy.targetQps ? `qps ${policy.targetQps}` : "",
    policy.targetCpuPercent ? `cpu ${policy.targetCpuPercent}%` : "",
    policy.targetConcurrency ? `concurrency ${policy.targetConcurrency}` : "",
    policy.targetBacklog ? `backlog ${policy.targetBacklog}` : "",
  ].filter(Boolean);
  return `min ${policy.minReplicas}, max ${policy.maxReplicas}, per instance: ${targets.join(", ")}`;
}

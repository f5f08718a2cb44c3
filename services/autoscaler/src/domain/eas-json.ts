import type { FieldViolation } from "@eas/decider";
import type { ScalingPolicy } from "@eas/proto";

/** EAS metric names and the target each sets. */
const EAS_METRICS: Record<string, keyof ScalingPolicy> = {
  qps: "targetQps",
  cpu: "targetCpuPercent",
  concurrency: "targetConcurrency",
  backlog: "targetBacklog",
  "queue[backlog]": "targetBacklog",
};

type Parsed = { ok: true; policy: ScalingPolicy } | { ok: false; violations: FieldViolation[] };

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

/**
 * Reads EAS's autoscaler JSON as is: `{"min", "max", "scaleStrategies": [{"metricName", "threshold"}],
 * "behavior": {"scaleUp": {"stabilizationWindowSeconds"}, "scaleDown": {"stabilizationWindowSeconds"},
 * "onZero": {"scaleDownGracePeriodSeconds", "scaleUpActivationReplicas"}}}`. Unknown keys and metrics are
 * named in the violations rather than ignored, so a typo never leaves a target out silently. Values are
 * checked by `resolvePolicy` afterwards, like any policy.
 */
export function parseEasAutoscalerJson(text: string, field = "eas_json"): Parsed {
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (error) {
    return { ok: false, violations: [{ path: field, message: `is not JSON: ${(error as Error).message}` }] };
  }
  if (!isObject(raw)) return { ok: false, violations: [{ path: field, message: "must be a JSON object" }] };
  const violations: FieldViolation[] = [];
  const policy: ScalingPolicy = {};
  const number = (value: unknown, path: string): number | undefined => {
    if (value === undefined) return undefined;
    if (typeof value !== "number") {
      violations.push({ path, message: `must be a number, got ${JSON.stringify(value)}` });
      return undefined;
    }
    return value;
  };
  const unknownKeys = (object: Record<string, unknown>, known: readonly string[], path: string) => {
    for (const key of Object.keys(object)) {
      if (!known.includes(key)) violations.push({ path: `${path}.${key}`, message: `unknown key (known: ${known.join(", ")})` });
    }
  };

  unknownKeys(raw, ["min", "max", "scaleStrategies", "behavior"], field);
  policy.minReplicas = number(raw.min, `${field}.min`);
  policy.maxReplicas = number(raw.max, `${field}.max`);

  const strategies = raw.scaleStrategies;
  if (strategies !== undefined && !Array.isArray(strategies)) {
    violations.push({ path: `${field}.scaleStrategies`, message: "must be a list" });
  }
  for (const [index, strategy] of (Array.isArray(strategies) ? strategies : []).entries()) {
    const path = `${field}.scaleStrategies[${index}]`;
    if (!isObject(strategy)) {
      violations.push({ path, message: "must be an object" });
      continue;
    }
    unknownKeys(strategy, ["metricName", "threshold", "service"], path);
    const target = typeof strategy.metricName === "string" ? EAS_METRICS[strategy.metricName] : undefined;
    if (!target) {
      violations.push({
        path: `${path}.metricName`,
        message: `unknown metric ${JSON.stringify(strategy.metricName)} (known: ${Object.keys(EAS_METRICS).join(", ")})`,
      });
      continue;
    }
    const threshold = number(strategy.threshold, `${path}.threshold`);
    if (threshold === undefined) {
      if (strategy.threshold === undefined) violations.push({ path: `${path}.threshold`, message: "is required" });
      continue;
    }
    policy[target] = threshold;
  }

  const behavior = raw.behavior;
  if (behavior !== undefined) {
    if (!isObject(behavior)) violations.push({ path: `${field}.behavior`, message: "must be an object" });
    else {
      unknownKeys(behavior, ["scaleUp", "scaleDown", "onZero"], `${field}.behavior`);
      const section = (name: string, keys: readonly string[]): Record<string, unknown> => {
        const value = behavior[name];
        if (value === undefined) return {};
        if (!isObject(value)) {
          violations.push({ path: `${field}.behavior.${name}`, message: "must be an object" });
          return {};
        }
        unknownKeys(value, keys, `${field}.behavior.${name}`);
        return value;
      };
      const up = section("scaleUp", ["stabilizationWindowSeconds"]);
      const down = section("scaleDown", ["stabilizationWindowSeconds"]);
      const zero = section("onZero", ["scaleDownGracePeriodSeconds", "scaleUpActivationReplicas"]);
      policy.scaleUpStabilizationSeconds = number(up.stabilizationWindowSeconds, `${field}.behavior.scaleUp.stabilizationWindowSeconds`);
      policy.scaleDownStabilizationSeconds = number(
        down.stabilizationWindowSeconds,
        `${field}.behavior.scaleDown.stabilizationWindowSeconds`,
      );
      policy.scaleToZeroGraceSeconds = number(zero.scaleDownGracePeriodSeconds, `${field}.behavior.onZero.scaleDownGracePeriodSeconds`);
      policy.activationReplicas = number(zero.scaleUpActivationReplicas, `${field}.behavior.onZero.scaleUpActivationReplicas`);
    }
  }
  if (violations.length > 0) return { ok: false, violations };
  // Leave unset fields out, so the defaults apply.
  for (const key of Object.keys(policy) as (keyof ScalingPolicy)[]) if (policy[key] === undefined) delete policy[key];
  return { ok: true, policy };
}

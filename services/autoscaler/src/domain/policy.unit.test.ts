import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { NotFoundError, PreconditionFailedError } from "@eas/decider";
import { deciderSpecification } from "@eas/decider/testing";
import { event } from "@eas/events";
import type { ScalingPolicy } from "@eas/proto";
import { parseEasAutoscalerJson } from "./eas-json.js";
import { policyDecider, type PolicyCommand } from "./policy-decider.js";
import { POLICY_DEFAULTS, resolvePolicy } from "./policy.js";

describe("resolvePolicy", () => {
  it("fills every default", () => {
    const resolved = resolvePolicy({ targetQps: 50 });
    assert.deepEqual(resolved, { ok: true, policy: { ...POLICY_DEFAULTS, targetQps: 50 } });
  });

  const refused: [string, ScalingPolicy, RegExp][] = [
    ["min > max", { minReplicas: 5, maxReplicas: 2, targetQps: 1 }, /policy\.min_replicas: must not exceed max_replicas \(min 5 > max 2\)/],
    ["a negative target", { targetCpuPercent: -5 }, /policy\.target_cpu_percent: must be at least 0, got -5/],
    ["no target", { minReplicas: 1 }, /at least one target is required/],
    ["a fractional count", { maxReplicas: 2.5, targetQps: 1 }, /policy\.max_replicas: must be a whole number/],
    ["max above the instance limit", { maxReplicas: 100_000, targetQps: 1 }, /policy\.max_replicas: must be at most/],
    [
      "a panic window longer than the stable one",
      { panicWindowSeconds: 90, targetQps: 1 },
      /policy\.panic_window_seconds: must not exceed/,
    ],
    ["a panic threshold of 1", { panicThreshold: 1, targetQps: 1 }, /policy\.panic_threshold: must be greater than 1/],
    ["NaN", { targetQps: Number.NaN }, /policy\.target_qps: must be a finite number/],
  ];
  for (const [name, input, pattern] of refused) {
    it(`refuses ${name}, naming the field`, () => {
      const resolved = resolvePolicy(input);
      assert.equal(resolved.ok, false);
      if (!resolved.ok) assert.match(resolved.violations.map((v) => `${v.path}: ${v.message}`).join("; "), pattern);
    });
  }
});

describe("parseEasAutoscalerJson", () => {
  it("reads EAS's document as is", () => {
    const parsed = parseEasAutoscalerJson(
      JSON.stringify({
        min: 2,
        max: 5,
        scaleStrategies: [
          { metricName: "qps", threshold: 10 },
          { metricName: "cpu", threshold: 50 },
        ],
        behavior: {
          scaleUp: { stabilizationWindowSeconds: 0 },
          scaleDown: { stabilizationWindowSeconds: 300 },
          onZero: { scaleDownGracePeriodSeconds: 600, scaleUpActivationReplicas: 2 },
        },
      }),
    );
    assert.deepEqual(parsed, {
      ok: true,
      policy: {
        minReplicas: 2,
        maxReplicas: 5,
        targetQps: 10,
        targetCpuPercent: 50,
        scaleUpStabilizationSeconds: 0,
        scaleDownStabilizationSeconds: 300,
        scaleToZeroGraceSeconds: 600,
        activationReplicas: 2,
      },
    });
  });

  const refused: [string, string, RegExp][] = [
    ["not JSON", "{min: 1", /eas_json: is not JSON/],
    [
      "an unknown metric",
      '{"scaleStrategies": [{"metricName": "gpu", "threshold": 1}]}',
      /eas_json\.scaleStrategies\[0\]\.metricName: unknown metric "gpu"/,
    ],
    ["a typo in a key", '{"min": 1, "maxx": 3}', /eas_json\.maxx: unknown key/],
    ["a threshold as text", '{"scaleStrategies": [{"metricName": "qps", "threshold": "10"}]}', /threshold: must be a number/],
    ["a missing threshold", '{"scaleStrategies": [{"metricName": "qps"}]}', /threshold: is required/],
  ];
  for (const [name, text, pattern] of refused) {
    it(`refuses ${name}, naming the field`, () => {
      const parsed = parseEasAutoscalerJson(text);
      assert.equal(parsed.ok, false);
      if (!parsed.ok) assert.match(parsed.violations.map((v) => `${v.path}: ${v.message}`).join("; "), pattern);
    });
  }
});

describe("policyDecider", () => {
  const spec = deciderSpecification(policyDecider);
  const policy = { ...POLICY_DEFAULTS, targetQps: 100 };
  const set = event("AutoscalerPolicySet", { service: "iris", policy, setAt: "T0" });
  const decision: PolicyCommand = {
    type: "RecordDecision",
    service: "iris",
    from: 2,
    to: 5,
    mode: "stable",
    reason: "qps 480 over 2 instances, target 100 -> 5",
    inputs: [{ metric: "qps", observed: 480, target: 100, windowSeconds: 30, desired: 5 }],
    ready: 2,
    now: "T1",
  };

  it("records a decision with its inputs and reason", () =>
    spec
      .given([set])
      .when(decision)
      .then([
        event("ScaleDecided", {
          service: "iris",
          fromReplicas: 2,
          toReplicas: 5,
          mode: "stable",
          reason: "qps 480 over 2 instances, target 100 -> 5",
          inputs: [{ metric: "qps", observed: 480, target: 100, windowSeconds: 30, desired: 5 }],
          readyInstances: 2,
          decidedAt: "T1",
        }),
      ]));
  it("refuses a decision made on a policy deleted meanwhile", () =>
    spec
      .given([set, event("AutoscalerPolicyDeleted", { service: "iris", deletedAt: "T1" })])
      .when(decision)
      .thenThrows(PreconditionFailedError));
  it("refuses to delete a policy that does not exist", () =>
    spec.given([]).when({ type: "DeletePolicy", service: "iris", now: "T" }).thenThrows(NotFoundError));
});

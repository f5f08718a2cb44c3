import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { PreconditionFailedError, ValidationError } from "@eas/decider";
import { deciderSpecification } from "@eas/decider/testing";
import { event } from "@eas/events";
import { ServiceSpec, type GateResult, type ReleasePlan, type VersionFigures } from "@eas/proto";
import { judgeWindow } from "./gates.js";
import { DEFAULT_GATES, normalizePlan } from "./release-plan.js";
import { serviceDecider } from "./service-decider.js";

const spec = (instance = 4) => ServiceSpec.fromPartial({ name: "iris", instance, resources: { cpuMillis: 1000, memoryMib: 512 } });
const T0 = "2026-12-04T10:00:00.000Z";
const T1 = "2026-12-04T10:01:00.000Z";
const T2 = "2026-12-04T10:02:00.000Z";
const created = event("ServiceCreated", { name: "iris", spec: spec(), version: 1, token: "", createdAt: T0, tokenSha256: "ab12" });
const staged = event("ServiceVersionAdded", { name: "iris", spec: spec(), version: 2, updateType: "merge", addedAt: T0 });
const canaryAt = (weight: number, cause = "user") =>
  event("CanaryStarted", { name: "iris", version: 2, stableVersion: 1, weight, replicas: 0, cause, at: T1 });
const given = deciderSpecification(serviceDecider).given;

const plan: ReleasePlan = {
  steps: [
    { weight: 10, bakeSeconds: 10 },
    { weight: 50, bakeSeconds: 10 },
    { weight: 100, bakeSeconds: 0 },
  ],
  gates: undefined,
  readyTimeoutSeconds: 60,
};
const recordedPlan = normalizePlan(plan).plan;
const planStarted = event("ReleasePlanStarted", { name: "iris", version: 2, plan: recordedPlan, at: T1 });
const stepStarted = (step: number, weight: number, at = T1) =>
  event("ReleaseStepStarted", { name: "iris", version: 2, step, weight, bakeSeconds: 10, at });
const weightChanged = (fromWeight: number, toWeight: number, cause = "release plan", at = T1) =>
  event("CanaryWeightChanged", { name: "iris", version: 2, fromWeight, toWeight, replicas: 0, cause, at });

const figures = (version: number, requests: number, errorRatio: number, p99Ms: number): VersionFigures => ({
  version,
  requests,
  errorRatio,
  p99Ms,
});
const measure = (step: number, canary: VersionFigures, stable: VersionFigures, windowFrom = "2026-12-04T10:01:10.000Z") => {
  const judged = judgeWindow(DEFAULT_GATES, canary, stable, 0);
  return {
    type: "RecordStepMeasurement" as const,
    name: "iris",
    version: 2,
    step,
    windowFrom,
    windowTo: new Date(Date.parse(windowFrom) + 10_000).toISOString(),
    canary,
    stable,
    gates: judged.gates,
    verdict: judged.verdict,
    now: T2,
  };
};
const measured = (command: ReturnType<typeof measure>) => {
  const { type: _type, now, ...data } = command;
  return event("ReleaseStepMeasured", { ...data, gates: data.gates as GateResult[], at: now });
};

describe("Release decider", () => {
  describe("StartCanary", () => {
    it("runs an existing version beside the stable one at a weight", () =>
      given([created, staged])
        .when({ type: "StartCanary", name: "iris", version: 2, weight: 10, now: T1 })
        .then([canaryAt(10)]));
    it("names the weight outside 0-100", () =>
      given([created, staged])
        .when({ type: "StartCanary", name: "iris", version: 2, weight: 101, now: T1 })
        .thenThrows(ValidationError, (e) => assert.equal(e.violations[0]?.path, "weight")));
    it("names a version the service does not have", () =>
      given([created, staged])
        .when({ type: "StartCanary", name: "iris", version: 7, weight: 10, now: T1 })
        .thenThrows(ValidationError, (e) =>
          assert.match(`${e.violations[0]?.path}: ${e.violations[0]?.message}`, /^version: .*no version 7/),
        ));
    it("refuses the stable version as its own canary", () =>
      given([created, staged])
        .when({ type: "StartCanary", name: "iris", version: 1, weight: 10, now: T1 })
        .thenThrows(ValidationError, (e) => assert.equal(e.violations[0]?.path, "version")));
    it("changes the running canary's weight", () =>
      given([created, staged, canaryAt(10)])
        .when({ type: "StartCanary", name: "iris", version: 2, weight: 30, now: T1 })
        .then([weightChanged(10, 30, "user")]));
    it("refuses a second canary", () =>
      given([created, staged, event("ServiceVersionAdded", { ...staged.data, version: 3 }), canaryAt(10)])
        .when({ type: "StartCanary", name: "iris", version: 3, weight: 30, now: T1 })
        .thenThrows(PreconditionFailedError));
    it("starts a plan at weight 0 until the canary is Ready", () =>
      given([created, staged])
        .when({ type: "StartCanary", name: "iris", version: 2, weight: 80, plan, now: T1 })
        .then([canaryAt(0, "release plan"), planStarted]));
    it("names the bad step of a plan", () =>
      given([created, staged])
        .when({
          type: "StartCanary",
          name: "iris",
          version: 2,
          plan: {
            ...plan,
            steps: [
              { weight: 50, bakeSeconds: 10 },
              { weight: 20, bakeSeconds: 10 },
            ],
          },
          now: T1,
        })
        .thenThrows(ValidationError, (e) => assert.equal(e.violations[0]?.path, "plan.steps[1].weight")));
    it("refuses weight changes while a plan drives the canary", () =>
      given([created, staged, canaryAt(0, "release plan"), planStarted])
        .when({ type: "StartCanary", name: "iris", version: 2, weight: 30, now: T1 })
        .thenThrows(PreconditionFailedError));
    it("refuses an update or a rollback while a canary runs", () => {
      given([created, staged, canaryAt(10)])
        .when({ type: "UpdateService", spec: spec(), updateType: "merge", now: T1 })
        .thenThrows(PreconditionFailedError);
      given([created, staged, canaryAt(10)])
        .when({ type: "RollbackService", name: "iris", version: 2, now: T1 })
        .thenThrows(PreconditionFailedError);
    });
  });

  describe("a release plan", () => {
    const planned = [created, staged, canaryAt(0, "release plan"), planStarted];
    it("starts its first step once asked (the canary is Ready)", () =>
      given(planned)
        .when({ type: "StartFirstStep", name: "iris", version: 2, now: T1 })
        .then([stepStarted(1, 10), weightChanged(0, 10)]));
    it("starts the first step once only", () =>
      given([...planned, stepStarted(1, 10), weightChanged(0, 10)])
        .when({ type: "StartFirstStep", name: "iris", version: 2, now: T1 })
        .then([]));

    const inStep1 = [...planned, stepStarted(1, 10), weightChanged(0, 10)];
    it("moves to the next step when a window passes", () => {
      const good = measure(1, figures(2, 100, 0, 3), figures(1, 900, 0, 3));
      given(inStep1)
        .when(good)
        .then([measured(good), stepStarted(2, 50, T2), weightChanged(10, 50, "release plan", T2)]);
    });
    it("rolls back at once when a gate fails, naming the gate and its numbers", () => {
      const bad = measure(1, figures(2, 100, 0.2, 3), figures(1, 900, 0, 3));
      given(inStep1)
        .when(bad)
        .then([
          measured(bad),
          event("CanaryAborted", {
            name: "iris",
            version: 2,
            cause: "release plan",
            reason: "step 1 at 10%: gate error_ratio failed: canary 20.0% > stable 0.0% + 1.0%",
            at: T2,
          }),
        ]);
    });
    it("judges the next window when this one had too few requests", () => {
      const thin = measure(1, figures(2, 10, 0, 3), figures(1, 90, 0, 3));
      assert.equal(thin.verdict, "inconclusive");
      given(inStep1)
        .when(thin)
        .then([measured(thin)]);
    });
    it("ignores a window judged again (a retry, or a restarted analyser)", () => {
      const thin = measure(1, figures(2, 10, 0, 3), figures(1, 90, 0, 3));
      given([...inStep1, measured(thin)])
        .when(thin)
        .then([]);
    });
    it("promotes when the last judged step passes (a last step of 100 is the promotion)", () => {
      const good = measure(2, figures(2, 500, 0, 3), figures(1, 500, 0, 3));
      given([...inStep1, stepStarted(2, 50), weightChanged(10, 50)])
        .when(good)
        .then([
          measured(good),
          event("CanaryPromoted", {
            name: "iris",
            fromVersion: 1,
            toVersion: 2,
            cause: "release plan",
            reason: "all 2 steps passed their gates",
            at: T2,
          }),
        ]);
    });
    it("ignores the judgement of a step that is over", () => {
      const late = measure(1, figures(2, 100, 0, 3), figures(1, 900, 0, 3));
      given([...inStep1, stepStarted(2, 50), weightChanged(10, 50)])
        .when(late)
        .then([]);
    });
  });

  describe("promote and abort", () => {
    it("promotes the canary to the stable version", () =>
      given([created, staged, canaryAt(10)])
        .when({ type: "PromoteCanary", name: "iris", cause: "user", reason: "promoted by the user", now: T2 })
        .then([
          event("CanaryPromoted", { name: "iris", fromVersion: 1, toVersion: 2, cause: "user", reason: "promoted by the user", at: T2 }),
        ]));
    it("aborts the canary", () =>
      given([created, staged, canaryAt(10)])
        .when({ type: "AbortCanary", name: "iris", cause: "user", reason: "aborted by the user", now: T2 })
        .then([event("CanaryAborted", { name: "iris", version: 2, cause: "user", reason: "aborted by the user", at: T2 })]));
    it("refuses both without a canary", () => {
      given([created])
        .when({ type: "PromoteCanary", name: "iris", cause: "user", reason: "", now: T2 })
        .thenThrows(PreconditionFailedError);
      given([created]).when({ type: "AbortCanary", name: "iris", cause: "user", reason: "", now: T2 }).thenThrows(PreconditionFailedError);
    });
    it("makes the promoted version current: an update builds on it", () => {
      const events = [
        created,
        staged,
        canaryAt(10),
        event("CanaryPromoted", { name: "iris", fromVersion: 1, toVersion: 2, cause: "user", reason: "", at: T2 }),
      ];
      const state = events.reduce(serviceDecider.evolve, serviceDecider.initialState());
      assert.ok(state.exists);
      assert.equal(state.currentVersion, 2);
      assert.equal(state.traffic.canary, undefined);
      assert.equal(state.traffic.last?.outcome, "promoted");
    });
  });

  describe("SetMirror", () => {
    it("mirrors a share of the requests to another service", () =>
      given([created])
        .when({ type: "SetMirror", name: "iris", target: "shadow", targetVersion: 0, ratio: 20, now: T1 })
        .then([event("MirrorSet", { name: "iris", target: "shadow", targetVersion: 0, ratio: 20, at: T1 })]));
    it("refuses mirroring a service to itself, naming the target", () =>
      given([created])
        .when({ type: "SetMirror", name: "iris", target: "iris", targetVersion: 0, ratio: 20, now: T1 })
        .thenThrows(ValidationError, (e) => assert.equal(e.violations[0]?.path, "target")));
    it("names a ratio outside 0-100", () =>
      given([created])
        .when({ type: "SetMirror", name: "iris", target: "shadow", targetVersion: 0, ratio: 120, now: T1 })
        .thenThrows(ValidationError, (e) => assert.equal(e.violations[0]?.path, "ratio")));
    it("stops mirroring at ratio 0, once", () => {
      const set = event("MirrorSet", { name: "iris", target: "shadow", targetVersion: 0, ratio: 20, at: T1 });
      given([created, set])
        .when({ type: "SetMirror", name: "iris", target: "", targetVersion: 0, ratio: 0, now: T2 })
        .then([event("MirrorRemoved", { name: "iris", at: T2 })]);
      given([created]).when({ type: "SetMirror", name: "iris", target: "", targetVersion: 0, ratio: 0, now: T2 }).then([]);
    });
  });
});

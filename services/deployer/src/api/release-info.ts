import { InstancePhase } from "@eas/instance-lifecycle";
import type { CanaryInfo, GroupInfo, ReleaseStatus } from "@eas/proto";
import { judgedSteps } from "../domain/release-plan.js";
import { canaryReplicaCount } from "../domain/traffic.js";
import type { GroupView } from "../projections/group-views.js";
import type { ServiceView, ServiceViews } from "../projections/service-views.js";
import { notReadyReason } from "../projections/status.js";

/** The canary as `eas desc` and `eas release --status` show it; undefined without one. */
export function toCanaryInfo(view: ServiceView): CanaryInfo | undefined {
  const canary = view.traffic.canary;
  if (!canary) return undefined;
  const ready = Object.values(view.instances).filter((i) => i.version === canary.version && i.phase === InstancePhase.Ready).length;
  const wanted = canaryReplicaCount(view.stopped ? 0 : view.desiredReplicas, canary);
  return {
    version: canary.version,
    weight: canary.weight,
    replicas: wanted,
    ready,
    replicasAsked: canary.replicas,
    cause: canary.cause,
    startedAt: canary.startedAt,
    reason: ready >= wanted ? "" : notReadyReason(view, canary.version),
  };
}

/** Where a release plan stands, in words. */
function planState(view: ServiceView): string {
  const plan = view.traffic.plan;
  if (!plan) return "";
  const steps = judgedSteps(plan.plan);
  if (plan.step === 0) return "waiting for a Ready canary instance before the first step";
  const step = plan.plan.steps[plan.step - 1]!;
  const windows = plan.measurements.filter((m) => m.step === plan.step).length;
  const judging = plan.inconclusive > 0 ? `, ${plan.inconclusive} window(s) without enough requests so far` : "";
  return `step ${plan.step}/${steps.length} at ${step.weight}%: baking ${step.bakeSeconds} s windows (${windows} judged${judging})`;
}

/** The service's traffic for `eas release <service> --status`: canary, plan and its measurements, last outcome, mirror. */
export function toReleaseStatus(view: ServiceView): ReleaseStatus {
  const { plan, last, mirror } = view.traffic;
  return {
    name: view.name,
    stableVersion: view.currentVersion,
    canary: toCanaryInfo(view),
    plan: plan && {
      plan: plan.plan,
      step: plan.step,
      stepStartedAt: plan.stepStartedAt,
      state: planState(view),
      measurements: plan.measurements,
      startedAt: plan.startedAt,
    },
    last: last && { ...last },
    mirror: mirror && { target: mirror.target, targetVersion: mirror.targetVersion, ratio: mirror.ratio, since: mirror.since },
  };
}

/** A group as GetGroup answers it: its members with their Ready instances now, its endpoint and its own token. */
export function toGroupInfo(group: GroupView, services: ServiceViews, gatewayUrl: string, token: string): GroupInfo {
  return {
    name: group.name,
    members: group.members.map(({ service, weight }) => {
      const view = services[service];
      const exists = view !== undefined && !view.deleted;
      const ready = exists ? Object.values(view.instances).filter((i) => i.phase === InstancePhase.Ready).length : 0;
      return { service, weight, ready, exists };
    }),
    endpoint: `${gatewayUrl}/api/predict/${group.name}`,
    token,
    createdAt: group.createdAt,
    updatedAt: group.updatedAt,
  };
}

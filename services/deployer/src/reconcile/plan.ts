import { InstancePhase, scaleInOrder, type InstanceLifecycle } from "@eas/instance-lifecycle";
import type { InstanceView, ServiceView } from "../projections/service-views.js";

/** What the reconciler should do next for one service; executed by the reconciler's adapter. */
export type ReconcileAction =
  | { kind: "create"; service: string; version: number }
  | { kind: "drain"; service: string; instanceId: string }
  | { kind: "stop"; service: string; instanceId: string; nodeId: string }
  | { kind: "start"; service: string; instanceId: string; nodeId: string; version: number };

export interface PlanOptions {
  now: number;
  /** How long a draining instance keeps serving its in-flight requests before it is stopped. */
  drainMs: number;
  /** A Scheduled instance whose agent has not reported Starting within this is started again (idempotent). */
  startRetryMs: number;
  /** Instances being created right now that the view does not show yet. */
  pendingCreates: number;
}

/** Back-off before replacing instances of a crash-looping service: 2 s, 4 s, ... up to 60 s. */
export function createBackoffMs(failuresSinceReady: number): number {
  return failuresSinceReady < 2 ? 0 : Math.min(60_000, 1_000 * 2 ** (failuresSinceReady - 1));
}

const age = (instance: InstanceLifecycle, now: number) => now - Date.parse(instance.since);

/**
 * Converges one service's instances to its desired state, one safe step at a time:
 * rolling updates surge one new instance, wait until it is Ready, then drain one old instance
 * (max surge 1, max unavailable 0), so an update never lowers the number of Ready instances.
 */
export function planReconcile(view: ServiceView, options: PlanOptions): ReconcileAction[] {
  const { now } = options;
  const service = view.name;
  const actions: ReconcileAction[] = [];
  const instances = Object.values(view.instances);
  const desired = view.stopped || view.deleted ? 0 : view.desiredReplicas;

  for (const instance of instances) {
    if (instance.phase === InstancePhase.Draining && age(instance, now) >= options.drainMs) {
      actions.push({ kind: "stop", service, instanceId: instance.instanceId, nodeId: instance.nodeId });
    }
    if (instance.phase === InstancePhase.Scheduled && age(instance, now) >= options.startRetryMs) {
      actions.push({ kind: "start", service, instanceId: instance.instanceId, nodeId: instance.nodeId, version: instance.version });
    }
  }

  // Ended instances leave the view at once; Draining ones are on their way out.
  const live: InstanceView[] = instances.filter((i) => i.phase !== InstancePhase.Draining);
  const current = live.filter((i) => i.version === view.currentVersion);
  const old = live.filter((i) => i.version !== view.currentVersion);
  const currentCount = current.length + options.pendingCreates;
  const readyCurrent = current.filter((i) => i.phase === InstancePhase.Ready).length;
  const readyOld = old.filter((i) => i.phase === InstancePhase.Ready);

  const backingOff = view.lastFailureAt !== "" && now - Date.parse(view.lastFailureAt) < createBackoffMs(view.failuresSinceReady);
  const withoutBackedOffCreates = (planned: ReconcileAction[]) =>
    backingOff ? planned.filter((action) => action.kind !== "create") : planned;

  if (desired === 0) {
    for (const instance of live) actions.push({ kind: "drain", service, instanceId: instance.instanceId });
    return actions;
  }

  if (old.length === 0) {
    for (let i = currentCount; i < desired; i++) actions.push({ kind: "create", service, version: view.currentVersion });
    if (current.length > desired) {
      // One scale-in rule for EAS (public pool first, then spot, then not Ready, then newest): @eas/instance-lifecycle.
      for (const victim of scaleInOrder(current).slice(0, current.length - desired)) {
        actions.push({ kind: "drain", service, instanceId: victim.instanceId });
      }
    }
    return withoutBackedOffCreates(actions);
  }

  // Rolling update.
  const notReadyOld = old.filter((i) => i.phase !== InstancePhase.Ready);
  for (const instance of notReadyOld) actions.push({ kind: "drain", service, instanceId: instance.instanceId });
  const liveAfter = currentCount + readyOld.length;
  if (currentCount < desired && liveAfter < desired + 1) actions.push({ kind: "create", service, version: view.currentVersion });
  // Max unavailable 0: drain a Ready old instance only when the rest still cover the desired count.
  if (readyOld.length > 0 && readyCurrent + readyOld.length - 1 >= desired) {
    actions.push({ kind: "drain", service, instanceId: scaleInOrder(readyOld)[0]!.instanceId });
  }
  return withoutBackedOffCreates(actions);
}

import { InstancePhase, isRoutable, isUrgentMove, scaleInOrder, type InstanceLifecycle } from "@eas/instance-lifecycle";
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
  /**
   * An instance whose node is reclaimed at a deadline is drained this long before it at the latest, replaced or
   * not, so that its in-flight requests end before the machine goes. Default 5 s.
   */
  reclaimDrainLeadMs?: number;
}

/** Back-off before replacing instances of a crash-looping service: 2 s, 4 s, ... up to 60 s. */
export function createBackoffMs(failuresSinceReady: number): number {
  return failuresSinceReady < 2 ? 0 : Math.min(60_000, 1_000 * 2 ** (failuresSinceReady - 1));
}

const age = (instance: InstanceLifecycle, now: number) => now - Date.parse(instance.since);

/**
 * Whether an instance stays: of the current version, not Lost, not asked to move. Every other live instance is
 * outgoing and is replaced before it is drained.
 */
export function isKeeper(instance: InstanceView, currentVersion: number): boolean {
  return instance.version === currentVersion && instance.phase !== InstancePhase.Lost && instance.moveCause === "";
}

/**
 * Outgoing instances that are replaced at once rather than one at a time: a Lost one (its node went silent), one
 * whose spot node is reclaimed, an orphan of a restarted agent.
 */
export function isUrgent(instance: InstanceView): boolean {
  return instance.phase === InstancePhase.Lost || isUrgentMove(instance.moveCause);
}

/**
 * Converges one service's instances to its desired state, one safe step at a time, with one make-before-break
 * machinery for every replacement:
 *
 * - keepers (current version, not Lost, not moving) are what the desired count counts;
 * - outgoing instances (an older version, a rebalance move, Lost, on a reclaimed node, orphaned) are replaced
 *   first and drained once enough keepers are Ready. Rolling updates and rebalance moves go one at a time (max
 *   surge 1, max unavailable 0); Lost, reclaimed and orphaned instances are all replaced at once, keep serving
 *   meanwhile (a Lost one is routed while it answers), and are drained once the keepers cover the desired
 *   count, or, on a reclaimed node, shortly before its deadline whatever happens;
 * - an outgoing instance that serves nothing goes at once; surplus keepers go in {@link scaleInOrder}.
 */
export function planReconcile(view: ServiceView, options: PlanOptions): ReconcileAction[] {
  const { now } = options;
  const service = view.name;
  const actions: ReconcileAction[] = [];
  const drain = (instance: InstanceView) => actions.push({ kind: "drain", service, instanceId: instance.instanceId });
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
  if (desired === 0) {
    live.forEach(drain);
    return actions;
  }

  const keepers = live.filter((i) => isKeeper(i, view.currentVersion));
  const outgoing = live.filter((i) => !isKeeper(i, view.currentVersion));
  const urgent = outgoing.filter(isUrgent);
  const steady = outgoing.filter((i) => !isUrgent(i));
  const keepCount = keepers.length + options.pendingCreates;
  const readyKeepers = keepers.filter((i) => i.phase === InstancePhase.Ready).length;
  const readySteady = steady.filter((i) => i.phase === InstancePhase.Ready);

  // What serves nothing is not worth keeping while its replacement starts.
  for (const instance of steady) if (instance.phase !== InstancePhase.Ready) drain(instance);
  for (const instance of urgent) if (!isRoutable(instance)) drain(instance);

  const backingOff = view.lastFailureAt !== "" && now - Date.parse(view.lastFailureAt) < createBackoffMs(view.failuresSinceReady);
  // Urgent ones are replaced all at once; steady ones one per pass, within a surge of 1 over the desired count.
  const surge = Math.min(desired - keepCount, desired + 1 - keepCount - readySteady.length);
  const creates = steady.length > 0 ? Math.min(surge, 1 + urgent.length) : surge;
  if (!backingOff) for (let i = 0; i < creates; i++) actions.push({ kind: "create", service, version: view.currentVersion });

  // One scale-in rule for EAS (public pool first, then spot, then not Ready, then newest): @eas/instance-lifecycle.
  if (keepers.length > desired)
    scaleInOrder(keepers)
      .slice(0, keepers.length - desired)
      .forEach(drain);

  const lead = options.reclaimDrainLeadMs ?? 5_000;
  for (const instance of urgent) {
    if (!isRoutable(instance)) continue;
    const dueBy = instance.moveDeadline === "" ? Number.POSITIVE_INFINITY : Date.parse(instance.moveDeadline) - lead;
    if (readyKeepers >= desired || now >= dueBy) drain(instance);
  }

  // Max unavailable 0: drain a Ready steady outgoing instance only when the rest still cover the desired count.
  if (readySteady.length > 0 && readyKeepers + readySteady.length - 1 >= desired) drain(scaleInOrder(readySteady)[0]!);
  return actions;
}

/**
 * The instances of a service that may be moved to spread it, or undefined when it should not be rebalanced now:
 * it opted out (`metadata.rebalance: false`), it is not settled (stopped, deleted, an update, a scale or a
 * replacement under way, an instance not Ready), or no two of its replicas share a node.
 */
export function rebalanceCandidates(view: ServiceView, rebalanceDisabled: boolean): string[] | undefined {
  if (rebalanceDisabled || view.stopped || view.deleted || view.desiredReplicas < 2) return undefined;
  const instances = Object.values(view.instances);
  const settled =
    instances.length === view.desiredReplicas &&
    instances.every((i) => i.phase === InstancePhase.Ready && isKeeper(i, view.currentVersion));
  // Replicas each on a node of their own are as spread as they get: no need to ask the scheduler.
  const sharing = new Set(instances.map((i) => i.nodeId)).size < instances.length;
  return settled && sharing ? instances.map((i) => i.instanceId).sort() : undefined;
}

import { InstancePhase, isRoutable, isUrgentMove, scaleInOrder, type InstanceLifecycle } from "@eas/instance-lifecycle";
import { wantedByVersion, type CrashLoop, type InstanceView, type ServiceView } from "../projections/service-views.js";

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
  /** Instances being created right now that the view does not show yet, by version. */
  pendingCreates: Readonly<Record<number, number>>;
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
 * Whether an instance stays: of a version the service runs (`version`: the current one, or the canary's), not
 * Lost, not asked to move. Every other live instance is outgoing and is replaced before it is drained.
 */
export function isKeeper(instance: InstanceView, version: number): boolean {
  return instance.version === version && instance.phase !== InstancePhase.Lost && instance.moveCause === "";
}

/**
 * Outgoing instances that are replaced at once rather than one at a time: a Lost one (its node went silent), one
 * whose spot node is reclaimed, an orphan of a restarted agent.
 */
export function isUrgent(instance: InstanceView): boolean {
  return instance.phase === InstancePhase.Lost || isUrgentMove(instance.moveCause);
}

/** One version the service runs and how many instances of it it wants, with that version's crash loop. */
interface Target {
  version: number;
  desired: number;
  crashLoop: CrashLoop;
}

/**
 * Converges one service's instances to its desired state, one safe step at a time, with one make-before-break
 * machinery for every replacement. The service runs its current version with its replica count and, during a
 * canary release, the canary's version with the canary's count (`wantedByVersion`); each is planned alike:
 *
 * - keepers (that version, not Lost, not moving) are what its count counts;
 * - outgoing instances (an older version, a rebalance move, Lost, on a reclaimed node, orphaned) are replaced
 *   first and drained once enough keepers are Ready. Rolling updates and rebalance moves go one at a time (max
 *   surge 1, max unavailable 0); Lost, reclaimed and orphaned instances are all replaced at once, keep serving
 *   meanwhile (a Lost one is routed while it answers), and are drained once the keepers cover the desired
 *   count, or, on a reclaimed node, shortly before its deadline whatever happens;
 * - an outgoing instance that serves nothing goes at once (not Ready, or of a withdrawn canary, which the gateway
 *   no longer routes); surplus keepers go in {@link scaleInOrder}.
 *
 * An instance of a version the service no longer runs is replaced by the current version; a moving or Lost
 * canary instance by the canary's version.
 */
export function planReconcile(view: ServiceView, options: PlanOptions): ReconcileAction[] {
  const { now } = options;
  const service = view.name;
  const actions: ReconcileAction[] = [];
  const instances = Object.values(view.instances);

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
  const wanted = wantedByVersion(view);
  if (view.desiredReplicas === 0 || view.stopped || view.deleted) {
    for (const instance of live) actions.push({ kind: "drain", service, instanceId: instance.instanceId });
    return actions;
  }
  const targets: Target[] = [...wanted].map(([version, desired]) => ({
    version,
    desired,
    crashLoop: version === view.currentVersion ? view : view.canaryFailures,
  }));
  const withdrawn = new Set(view.traffic.withdrawn.filter((version) => !wanted.has(version)));
  for (const target of targets) {
    const attributed = live.filter((i) => (wanted.has(i.version) ? i.version : view.currentVersion) === target.version);
    actions.push(...planVersion(view, target, attributed, withdrawn, options));
  }
  return actions;
}

/** The plan for one version the service runs, over the live instances that count toward it or are replaced by it. */
function planVersion(
  view: ServiceView,
  target: Target,
  live: readonly InstanceView[],
  withdrawn: ReadonlySet<number>,
  options: PlanOptions,
): ReconcileAction[] {
  const { now } = options;
  const service = view.name;
  const { version, desired } = target;
  const actions: ReconcileAction[] = [];
  const drain = (instance: InstanceView) => actions.push({ kind: "drain", service, instanceId: instance.instanceId });

  const keepers = live.filter((i) => isKeeper(i, version));
  const outgoing = live.filter((i) => !isKeeper(i, version));
  const urgent = outgoing.filter(isUrgent);
  const steady = outgoing.filter((i) => !isUrgent(i));
  const keepCount = keepers.length + (options.pendingCreates[version] ?? 0);
  const readyKeepers = keepers.filter((i) => i.phase === InstancePhase.Ready).length;
  // What serves nothing is not worth keeping while its replacement starts: not Ready, or an aborted canary's.
  const servesNothing = (i: InstanceView) => i.phase !== InstancePhase.Ready || withdrawn.has(i.version);
  const readySteady = steady.filter((i) => !servesNothing(i));

  for (const instance of steady) if (servesNothing(instance)) drain(instance);
  for (const instance of urgent) if (!isRoutable(instance) || withdrawn.has(instance.version)) drain(instance);

  const { failuresSinceReady, lastFailureAt } = target.crashLoop;
  const backingOff = lastFailureAt !== "" && now - Date.parse(lastFailureAt) < createBackoffMs(failuresSinceReady);
  // Urgent ones are replaced all at once; steady ones one per pass, within a surge of 1 over the desired count.
  const surge = Math.min(desired - keepCount, desired + 1 - keepCount - readySteady.length);
  const creates = steady.length > 0 ? Math.min(surge, 1 + urgent.length) : surge;
  if (!backingOff) for (let i = 0; i < creates; i++) actions.push({ kind: "create", service, version });

  // One scale-in rule for EAS (public pool first, then spot, then not Ready, then newest): @eas/instance-lifecycle.
  if (keepers.length > desired)
    scaleInOrder(keepers)
      .slice(0, keepers.length - desired)
      .forEach(drain);

  const lead = options.reclaimDrainLeadMs ?? 5_000;
  for (const instance of urgent) {
    if (!isRoutable(instance) || withdrawn.has(instance.version)) continue;
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

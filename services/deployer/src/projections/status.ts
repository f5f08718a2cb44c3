import { InstancePhase } from "@eas/instance-lifecycle";
import { isConverged, type InstanceView, type ServiceView } from "./service-views.js";

/**
 * EAS's service states, as `eas desc` shows them (the proto comment on `ServiceInfo.status` and
 * docs/service-status.md say what each means). `Deleting` is only the answer to DeleteService.
 */
export type ServiceStatus =
  "Creating" | "Starting" | "Waiting" | "Running" | "Updating" | "Scaling" | "Stopping" | "Stopped" | "Failed" | "Deleting";

/** The reason of a service scaled to 0 (not stopped): nothing runs, nothing serves. */
export const SCALED_TO_ZERO = "scaled to zero";

export interface ServiceStatusSummary {
  status: ServiceStatus;
  reason: string;
  running: number;
  pending: number;
  total: number;
}

/**
 * An instance's status as `eas desc` shows it: its lifecycle phase, except that an instance that exited and
 * waits for its restart shows as Starting (it is on its way back, with the exit as its reason).
 */
export function instanceStatus(instance: InstanceView): string {
  return instance.phase === InstancePhase.Exited ? InstancePhase.Starting : instance.phase;
}

/** Instances failing in a row, with none Ready, before the service counts as Failed. */
export const CRASH_LOOP_FAILURES = 3;

/**
 * Why the current version is short of Ready instances, naming its most telling instance: one with a
 * reason (a crash, a failed probe) before one without, then the most restarted, then the oldest.
 * "" when every instance of the current version is Ready.
 */
export function notReadyReason(view: ServiceView): string {
  const waiting = Object.values(view.instances)
    .filter((i) => i.version === view.currentVersion && i.phase !== InstancePhase.Ready && i.phase !== InstancePhase.Draining)
    .sort(
      (a, b) =>
        Number(b.reason !== "") - Number(a.reason !== "") ||
        b.restartCount - a.restartCount ||
        a.since.localeCompare(b.since) ||
        a.instanceId.localeCompare(b.instanceId),
    );
  const telling = waiting[0];
  if (!telling) {
    // Failed instances leave the view at once; between a failure and its (backed-off) replacement only the count remains.
    const failures = view.failuresSinceReady;
    return failures > 0 ? `${failures} instance${failures === 1 ? "" : "s"} failed in a row, the last: ${view.lastFailureReason}` : "";
  }
  const subject = `instance ${telling.instanceId} of version ${telling.version} is not Ready`;
  if (!telling.reason) return `${subject} yet (${instanceStatus(telling)} since ${telling.since})`;
  const restarts = telling.restartCount > 0 ? `, restarted ${telling.restartCount} time${telling.restartCount === 1 ? "" : "s"}` : "";
  return `${subject} (${instanceStatus(telling)}${restarts}): ${telling.reason}`;
}

/** Why an instance is being replaced, in words: `replacing <id> (rebalance): <reason>`. */
export function movingReason(instance: InstanceView): string {
  const cause = instance.phase === InstancePhase.Lost ? "lost" : instance.moveCause;
  const why = instance.phase === InstancePhase.Lost ? instance.reason : instance.moveReason;
  return `replacing ${instance.instanceId} (${cause})${why ? `: ${why}` : ""}`;
}

/**
 * What the owner should know beyond the status: replicas that all run on one node (one node loss stops the
 * service), with the way out when the service opted out of rebalancing.
 */
export function serviceWarnings(view: ServiceView, rebalanceDisabled: boolean): string[] {
  const live = Object.values(view.instances).filter((i) => i.phase !== InstancePhase.Draining && i.nodeId !== "");
  const nodes = new Set(live.map((i) => i.nodeId));
  if (live.length < 2 || nodes.size !== 1) return [];
  const [node] = nodes;
  const hint = rebalanceDisabled
    ? "metadata.rebalance is false, so they stay there"
    : "they are moved apart once another node fits one (or add a node)";
  return [`all ${live.length} replicas run on node ${node}: losing it stops the service; ${hint}`];
}

/**
 * Derives EAS's service status from the desired state and the instances, as `eas desc` shows it.
 *
 * Counts: `running` is every Ready instance, of any version (during an update the old version serves);
 * `pending` the instances on their way to Ready; `total` every live instance, Draining ones included.
 * The state names what the user asked for last until the service has converged to it (Creating, Starting,
 * Updating, Scaling); Waiting only when an instance cannot be placed; Stopped when nothing runs, with the
 * reason "scaled to zero" after `scale 0`.
 */
export function summarizeStatus(view: ServiceView): ServiceStatusSummary {
  const instances = Object.values(view.instances);
  const running = instances.filter((i) => i.phase === InstancePhase.Ready).length;
  const pending = instances.filter((i) => i.phase !== InstancePhase.Ready && i.phase !== InstancePhase.Draining).length;
  // Ended instances leave the view at once: every instance here is live.
  const total = instances.length;
  const summary = (status: ServiceStatus, reason = "") => ({ status, reason, running, pending, total });

  if (view.stopped) return total > 0 ? summary("Stopping") : summary("Stopped");
  if (view.desiredReplicas === 0)
    return total > 0 ? summary("Scaling", `${SCALED_TO_ZERO}: stopping the last instances`) : summary("Stopped", SCALED_TO_ZERO);
  if (view.failure) return summary("Failed", view.failure);
  if (isConverged(view)) return summary("Running");
  if (view.placementBlocked) return summary("Waiting", view.placementBlocked);
  // The current version's crash loop, even while the old version serves on (a stuck rollout).
  const readyCurrent = instances.filter((i) => i.phase === InstancePhase.Ready && i.version === view.currentVersion).length;
  if (readyCurrent === 0 && view.failuresSinceReady >= CRASH_LOOP_FAILURES) return summary("Failed", view.lastFailureReason);
  // A stuck rollout (a new version that crashes or never passes its probe) says which instance and why.
  if (instances.some((i) => i.version !== view.currentVersion)) return summary("Updating", notReadyReason(view));
  // Nothing asked for is under way: an instance crashed, was lost with its node, or moves, and is being replaced.
  const recovering: ServiceStatus = running > 0 ? "Running" : "Starting";
  const moving = instances.find((i) => i.moveCause !== "" || i.phase === InstancePhase.Lost);
  const why = moving && running >= view.desiredReplicas ? movingReason(moving) : notReadyReason(view);
  return summary(view.converging || recovering, why);
}

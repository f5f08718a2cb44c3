import { InstancePhase } from "@eas/instance-lifecycle";
import type { InstanceView, ServiceView } from "./service-views.js";

export type ServiceStatus = "Creating" | "Waiting" | "Running" | "Updating" | "Stopping" | "Stopped" | "Failed";

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

/** Derives EAS's service status from the desired state and the instances, as `eas desc` shows it. */
export function summarizeStatus(view: ServiceView): ServiceStatusSummary {
  const instances = Object.values(view.instances);
  const running = instances.filter((i) => i.phase === InstancePhase.Ready && i.version === view.currentVersion).length;
  const readyAny = instances.filter((i) => i.phase === InstancePhase.Ready).length;
  // Ended instances leave the view at once: every instance here is live.
  const total = instances.length;
  const pending = total - readyAny;
  const summary = (status: ServiceStatus, reason = "") => ({ status, reason, running, pending, total });

  if (view.stopped) return total > 0 ? summary("Stopping") : summary("Stopped");
  if (view.failure) return summary("Failed", view.failure);
  if (running >= view.desiredReplicas && total === view.desiredReplicas) return summary("Running");
  if (view.placementBlocked) return summary("Waiting", view.placementBlocked);
  if (running === 0 && view.failuresSinceReady >= CRASH_LOOP_FAILURES) return summary("Failed", view.lastFailureReason);
  const outdated = instances.some((i) => i.version !== view.currentVersion);
  // A stuck rollout (a new version that crashes or never passes its probe) says which instance and why.
  if (outdated) return summary("Updating", notReadyReason(view));
  if (running === 0 && instances.every((i) => i.restartCount === 0)) return summary("Creating");
  return summary("Waiting", notReadyReason(view));
}

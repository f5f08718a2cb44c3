import type { ServiceView } from "./service-views.js";

export type ServiceStatus = "Creating" | "Waiting" | "Running" | "Updating" | "Stopping" | "Stopped" | "Failed";

export interface ServiceStatusSummary {
  status: ServiceStatus;
  reason: string;
  running: number;
  pending: number;
  total: number;
}

/** Instances failing in a row, with none Ready, before the service counts as Failed. */
export const CRASH_LOOP_FAILURES = 3;

/** Derives EAS's service status from the desired state and the instances, as `eas desc` shows it. */
export function summarizeStatus(view: ServiceView): ServiceStatusSummary {
  const instances = Object.values(view.instances);
  const live = instances.filter((i) => i.status !== "Failed");
  const running = instances.filter((i) => i.status === "Ready" && i.version === view.currentVersion).length;
  const readyAny = instances.filter((i) => i.status === "Ready").length;
  const total = live.length;
  const pending = total - readyAny;
  const summary = (status: ServiceStatus, reason = "") => ({ status, reason, running, pending, total });

  if (view.stopped) return total > 0 ? summary("Stopping") : summary("Stopped");
  if (view.failure) return summary("Failed", view.failure);
  if (running >= view.desiredReplicas && total === view.desiredReplicas) return summary("Running");
  if (view.placementBlocked) return summary("Waiting", view.placementBlocked);
  if (running === 0 && view.failuresSinceReady >= CRASH_LOOP_FAILURES) return summary("Failed", view.lastFailureReason);
  const outdated = instances.some((i) => i.version !== view.currentVersion);
  if (outdated) return summary("Updating");
  if (running === 0 && instances.every((i) => i.restartCount === 0)) return summary("Creating");
  return summary("Waiting");
}

import { ServiceSpec, type InstanceInfo, type ServiceInfo, type VersionInfo } from "@eas/proto";
import type { ServiceView } from "../projections/service-views.js";
import { instanceStatus, serviceWarnings, summarizeStatus } from "../projections/status.js";

/**
 * Maps the read model to the public API message. `token` is the clear token, which the view does not hold
 * (ADR 0027); the current version's spec shows the service's replica count (ADR 0028).
 */
export function toServiceInfo(view: ServiceView, gatewayUrl: string, token: string): ServiceInfo {
  const summary = summarizeStatus(view);
  const current = view.versions.find((v) => v.version === view.currentVersion);
  const instances: InstanceInfo[] = Object.values(view.instances).map((i) => ({
    instanceId: i.instanceId,
    version: i.version,
    nodeId: i.nodeId,
    status: instanceStatus(i),
    endpoint: i.endpoint,
    restartCount: i.restartCount,
    reason: i.reason,
    pool: i.pool,
    spot: i.spot,
    moving: i.moveCause === "" ? "" : `${i.moveCause}: ${i.moveReason}`,
  }));
  const rebalanceDisabled = current ? ServiceSpec.fromJSON(current.spec).rebalanceDisabled : false;
  return {
    name: view.name,
    status: summary.status,
    reason: summary.reason,
    currentVersion: view.currentVersion,
    latestVersion: view.latestVersion,
    desiredInstances: view.stopped ? 0 : view.desiredReplicas,
    runningInstances: summary.running,
    pendingInstances: summary.pending,
    totalInstances: summary.total,
    endpoint: `${gatewayUrl}/api/predict/${view.name}`,
    token,
    specJson: current ? JSON.stringify(withReplicas(current.spec, view.desiredReplicas)) : "",
    createdAt: view.createdAt,
    updatedAt: view.updatedAt,
    instances,
    warnings: [],
    placementWarnings: serviceWarnings(view, rebalanceDisabled),
    lastScale: view.lastScale,
    autoscaling: view.autoscaling ? `min ${view.autoscaling.minReplicas}, max ${view.autoscaling.maxReplicas}` : "",
  };
}

/**
 * A version's recorded spec (proto3 JSON) with the service's replica count: replicas belong to the service
 * (scale sets them, a rollback keeps them), the rest of the spec to the version.
 */
function withReplicas(spec: unknown, replicas: number): unknown {
  return typeof spec === "object" && spec !== null ? { ...spec, instance: replicas } : spec;
}

/** Each version's spec as it was submitted (its `instance` is the count that version asked for then). */
export function toVersionInfos(view: ServiceView): VersionInfo[] {
  return view.versions.map((v) => ({
    version: v.version,
    specJson: JSON.stringify(v.spec),
    createdAt: v.createdAt,
    current: v.version === view.currentVersion,
  }));
}

export function specOfVersion(view: ServiceView, version: number): ServiceSpec | undefined {
  const found = view.versions.find((v) => v.version === version);
  return found ? ServiceSpec.fromJSON(found.spec) : undefined;
}

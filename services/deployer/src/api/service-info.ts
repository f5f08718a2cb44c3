import { ServiceSpec, type InstanceInfo, type ServiceInfo, type VersionInfo } from "@eas/proto";
import type { ServiceView } from "../projections/service-views.js";
import { instanceStatus, summarizeStatus } from "../projections/status.js";

/** Maps the read model to the public API message. */
export function toServiceInfo(view: ServiceView, gatewayUrl: string): ServiceInfo {
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
  }));
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
    token: view.token,
    specJson: current ? JSON.stringify(current.spec) : "",
    createdAt: view.createdAt,
    updatedAt: view.updatedAt,
    instances,
    lastScale: view.lastScale,
    autoscaling: view.autoscaling ? `min ${view.autoscaling.minReplicas}, max ${view.autoscaling.maxReplicas}` : "",
  };
}

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

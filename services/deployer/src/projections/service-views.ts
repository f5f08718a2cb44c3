import type { RecordedEvent } from "@eas/event-store";
import { decodeEvent, StreamCategory } from "@eas/events";
import type { Projection } from "@eas/projections";
import { ServiceSpec } from "@eas/proto";

export type InstanceStatus = "Scheduled" | "Starting" | "Ready" | "Unhealthy" | "Draining" | "Stopped" | "Failed";

export interface InstanceView {
  instanceId: string;
  version: number;
  nodeId: string;
  status: InstanceStatus;
  endpoint: string;
  restartCount: number;
  reason: string;
  /** When the instance last changed status (ISO time from the event). */
  since: string;
  /** "dedicated" or "public": scale-in removes public-pool instances first. */
  pool: string;
}

export interface VersionView {
  version: number;
  /** proto3 JSON of the spec, so the state stays JSON for snapshots. */
  spec: unknown;
  createdAt: string;
}

export interface ServiceView {
  name: string;
  token: string;
  versions: VersionView[];
  currentVersion: number;
  latestVersion: number;
  desiredReplicas: number;
  stopped: boolean;
  createdAt: string;
  updatedAt: string;
  /** Why instances cannot be placed, until one is placed again. */
  placementBlocked: string;
  failure: string;
  /** Deleted services stay until their last instance has stopped, so the reconciler can stop them. */
  deleted: boolean;
  /** Instances failed since one was last Ready: a crash loop when it grows (backs creates off, shows Failed). */
  failuresSinceReady: number;
  lastFailureReason: string;
  lastFailureAt: string;
  instances: Record<string, InstanceView>;
}

export type ServiceViews = Record<string, ServiceView>;

function withService(views: ServiceViews, name: string, update: (view: ServiceView) => ServiceView): ServiceViews {
  const view = views[name];
  return view ? { ...views, [name]: update(view) } : views;
}

function withInstance(
  views: ServiceViews,
  service: string,
  instanceId: string,
  update: (instance: InstanceView | undefined) => InstanceView | undefined,
): ServiceViews {
  return withService(views, service, (view) => {
    const next = update(view.instances[instanceId]);
    const { [instanceId]: _old, ...others } = view.instances;
    return { ...view, instances: next ? { ...others, [instanceId]: next } : others };
  });
}

/** A Draining instance stays Draining until it stops: a late Ready must not put it back in service. */
function notDraining(current: InstanceView, next: InstanceView): InstanceView {
  return current.status === "Draining" ? { ...current, restartCount: next.restartCount } : next;
}

function dropIfGone(views: ServiceViews, name: string): ServiceViews {
  const view = views[name];
  if (!view || !view.deleted || Object.keys(view.instances).length > 0) return views;
  const { [name]: _gone, ...rest } = views;
  return rest;
}

/**
 * A crash loop belongs to the version that looped: a new version (an update, a rollback) starts without
 * the back-off and the Failed status the previous one earned, so fixing a bad update takes effect at once.
 */
const NO_CRASH_LOOP = { failuresSinceReady: 0, lastFailureReason: "", lastFailureAt: "" } as const;

/**
 * A failure counts toward the current version's crash loop when that version's instance failed before it
 * was Ready: a launch that failed, or restarts given up on. A Ready instance lost with its node or agent,
 * an instance being drained, or one of an older version says nothing about the version now wanted.
 */
function countsAsCrashLoop(instance: InstanceView, view: ServiceView): boolean {
  return instance.version === view.currentVersion && instance.status !== "Ready" && instance.status !== "Draining";
}

/** The deployer's read model: every service with its versions and instances, for Get/List and the reconciler. */
export const serviceViewsProjection: Projection<ServiceViews> = {
  name: "service-views",
  version: 4,
  categories: [StreamCategory.service, StreamCategory.instance],
  initialState: () => ({}),
  evolve(views: ServiceViews, recorded: RecordedEvent): ServiceViews {
    const e = decodeEvent(recorded);
    if (!e) return views;
    switch (e.type) {
      case "eas.v1.ServiceCreated":
        return {
          ...views,
          [e.data.name]: {
            name: e.data.name,
            token: e.data.token,
            versions: [{ version: e.data.version, spec: ServiceSpec.toJSON(e.data.spec!), createdAt: e.data.createdAt }],
            currentVersion: e.data.version,
            latestVersion: e.data.version,
            desiredReplicas: e.data.spec?.instance ?? 0,
            stopped: false,
            createdAt: e.data.createdAt,
            updatedAt: e.data.createdAt,
            placementBlocked: "",
            failure: "",
            deleted: false,
            failuresSinceReady: 0,
            lastFailureReason: "",
            lastFailureAt: "",
            instances: {},
          },
        };
      case "eas.v1.ServiceDeleted":
        return dropIfGone(
          withService(views, e.data.name, (v) => ({ ...v, deleted: true, updatedAt: e.data.deletedAt })),
          e.data.name,
        );
      case "eas.v1.ServiceUpdated":
        return withService(views, e.data.name, (v) => ({
          ...v,
          versions: [...v.versions, { version: e.data.version, spec: ServiceSpec.toJSON(e.data.spec!), createdAt: e.data.updatedAt }],
          currentVersion: e.data.version,
          latestVersion: e.data.version,
          desiredReplicas: e.data.spec?.instance ?? v.desiredReplicas,
          updatedAt: e.data.updatedAt,
          failure: "",
          ...NO_CRASH_LOOP,
        }));
      case "eas.v1.ServiceScaled":
        return withService(views, e.data.name, (v) => ({ ...v, desiredReplicas: e.data.toReplicas, updatedAt: e.data.scaledAt }));
      case "eas.v1.ServiceStopped":
        return withService(views, e.data.name, (v) => ({ ...v, stopped: true, updatedAt: e.data.stoppedAt }));
      case "eas.v1.ServiceStarted":
        return withService(views, e.data.name, (v) => ({ ...v, stopped: false, failure: "", updatedAt: e.data.startedAt }));
      case "eas.v1.ServiceRolledBack":
        return withService(views, e.data.name, (v) => ({
          ...v,
          currentVersion: e.data.toVersion,
          updatedAt: e.data.rolledBackAt,
          ...NO_CRASH_LOOP,
        }));
      case "eas.v1.ServicePlacementBlocked":
        return withService(views, e.data.name, (v) => ({ ...v, placementBlocked: e.data.reason }));
      case "eas.v1.ServiceDeploymentFailed":
        return withService(views, e.data.name, (v) => ({ ...v, failure: e.data.reason }));
      case "eas.v1.InstanceScheduled": {
        const cleared = withService(views, e.data.service, (v) => ({ ...v, placementBlocked: "" }));
        return withInstance(cleared, e.data.service, e.data.instanceId, () => ({
          instanceId: e.data.instanceId,
          version: e.data.version,
          nodeId: e.data.nodeId,
          status: "Scheduled",
          endpoint: "",
          restartCount: 0,
          reason: "",
          since: e.data.at,
          pool: e.data.pool,
        }));
      }
      case "eas.v1.InstanceStarting":
        return withInstance(
          views,
          e.data.service,
          e.data.instanceId,
          (i) => i && notDraining(i, { ...i, status: "Starting", restartCount: e.data.restartCount, since: e.data.at }),
        );
      case "eas.v1.InstanceReady":
        // Only a Ready instance of the current version ends its crash loop; an old one says nothing about it.
        return withInstance(
          withService(views, e.data.service, (v) => (e.data.version === v.currentVersion ? { ...v, failuresSinceReady: 0 } : v)),
          e.data.service,
          e.data.instanceId,
          (i) => i && notDraining(i, { ...i, status: "Ready", endpoint: e.data.endpoint, reason: "", since: e.data.at }),
        );
      case "eas.v1.InstanceUnhealthy":
        return withInstance(
          views,
          e.data.service,
          e.data.instanceId,
          (i) => i && notDraining(i, { ...i, status: "Unhealthy", reason: e.data.reason, since: e.data.at }),
        );
      case "eas.v1.InstanceExited":
        return withInstance(
          views,
          e.data.service,
          e.data.instanceId,
          (i) =>
            i && notDraining(i, { ...i, status: "Starting", restartCount: e.data.restartCount, reason: e.data.reason, since: e.data.at }),
        );
      case "eas.v1.InstanceDraining":
        return withInstance(views, e.data.service, e.data.instanceId, (i) => i && { ...i, status: "Draining", since: e.data.at });
      case "eas.v1.InstanceStopped":
        return dropIfGone(
          withInstance(views, e.data.service, e.data.instanceId, () => undefined),
          e.data.service,
        );
      case "eas.v1.InstanceFailed": {
        const failed = views[e.data.service]?.instances[e.data.instanceId];
        if (!failed) return views;
        return withInstance(
          withService(views, e.data.service, (v) =>
            countsAsCrashLoop(failed, v)
              ? { ...v, failuresSinceReady: v.failuresSinceReady + 1, lastFailureReason: e.data.reason, lastFailureAt: e.data.at }
              : v,
          ),
          e.data.service,
          e.data.instanceId,
          (i) => i && { ...i, status: "Failed", reason: e.data.reason, since: e.data.at },
        );
      }
      default:
        return views;
    }
  },
};

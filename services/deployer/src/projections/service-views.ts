import type { RecordedEvent } from "@eas/event-store";
import { decodeEvent, serviceTokenSha256, StreamCategory } from "@eas/events";
import {
  absentInstance,
  evolveInstance,
  hasEnded,
  InstancePhase,
  isInstanceEvent,
  type InstanceEvent,
  type InstanceLifecycle,
} from "@eas/instance-lifecycle";
import type { Projection } from "@eas/projections";
import { ServiceSpec } from "@eas/proto";

/** One instance of a service, as the shared lifecycle fold tells it; kept from InstanceScheduled until it ends. */
export type InstanceView = InstanceLifecycle;

export interface VersionView {
  version: number;
  /** proto3 JSON of the spec, so the state stays JSON for snapshots. */
  spec: unknown;
  createdAt: string;
}

/**
 * The change a service is converging to, named as its status shows it until it converges: "" once every
 * wanted instance of the current version is Ready and nothing else runs (see `isConverged`).
 */
export type Convergence = "" | "Creating" | "Starting" | "Updating" | "Scaling";

export interface ServiceView {
  name: string;
  /** SHA-256 (hex) of the service's token; the token itself stays out of the log and of this view (ADR 0027). */
  tokenSha256: string;
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
  /**
   * Exits and failures before Ready since an instance of the current version was last Ready: a crash loop
   * when it grows (backs creates off; `CRASH_LOOP_FAILURES` of them with none Ready show Failed).
   */
  failuresSinceReady: number;
  lastFailureReason: string;
  lastFailureAt: string;
  /** What the reconciler is converging to since the last create, start, update, rollback or scale. */
  converging: Convergence;
  instances: Record<string, InstanceView>;
  /** The latest change of the replica count and why (ServiceScaled). */
  lastScale?: LastScaleView;
  /** The autoscaling policy's bounds while the service has one (the autoscaler's AutoscalerPolicySet). */
  autoscaling?: { minReplicas: number; maxReplicas: number };
}

export interface LastScaleView {
  fromReplicas: number;
  toReplicas: number;
  cause: string;
  reason: string;
  at: string;
}

export type ServiceViews = Record<string, ServiceView>;

function withService(views: ServiceViews, name: string, update: (view: ServiceView) => ServiceView): ServiceViews {
  const view = views[name];
  return view ? { ...views, [name]: settle(update(view)) } : views;
}

/**
 * Whether the service has what it wants: as many Ready instances of the current version as its replica count
 * and no other instance (none of an old version, none draining, none extra). A stopped service never is.
 */
export function isConverged(view: ServiceView): boolean {
  if (view.stopped) return false;
  const instances = Object.values(view.instances);
  const readyCurrent = instances.filter((i) => i.phase === InstancePhase.Ready && i.version === view.currentVersion).length;
  return readyCurrent === view.desiredReplicas && instances.length === view.desiredReplicas;
}

/** Forgets the change the service was converging to once it has converged. */
function settle(view: ServiceView): ServiceView {
  return view.converging !== "" && isConverged(view) ? { ...view, converging: "" } : view;
}

/**
 * The change a command starts: a new version rolls out (Updating) and a start brings the service up
 * (Starting) whatever was under way; a scale during a create, a start or an update is part of it.
 */
function converging(view: ServiceView, change: Exclude<Convergence, "">): Convergence {
  if (change === "Scaling" && view.converging !== "" && view.converging !== "Scaling") return view.converging;
  return change;
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
 * A failure (Exited or Failed) counts toward the current version's crash loop when that version's instance
 * was not Ready when it happened: a launch that failed, a process that exits (or times out) before its
 * readiness probe passes, restarts given up on. A Ready instance that crashes or is lost with its node or
 * agent, an instance being drained or Lost, or one of an older version says nothing about the version now wanted.
 */
function countsAsCrashLoop(instance: InstanceView, view: ServiceView): boolean {
  return (
    instance.version === view.currentVersion &&
    instance.phase !== InstancePhase.Ready &&
    instance.phase !== InstancePhase.Draining &&
    // A node lost says nothing about the version either.
    instance.phase !== InstancePhase.Lost
  );
}

/**
 * Folds one instance event into its service's view with the shared lifecycle fold ({@link evolveInstance}):
 * an instance is tracked from its InstanceScheduled and dropped once it has ended, so an event the state
 * machine does not allow (a Ready after Draining) changes nothing. An exit or failure is counted toward the
 * crash loop first; a Ready instance of the current version ends the crash loop.
 */
function evolveInstanceOf(views: ServiceViews, e: InstanceEvent): ServiceViews {
  const view = views[e.data.service];
  if (!view) return views;
  const { instanceId } = e.data;
  const before = view.instances[instanceId] ?? (e.type === "eas.v1.InstanceScheduled" ? absentInstance(instanceId) : undefined);
  if (!before) return views;
  const after = evolveInstance(before, e);
  if (after === before) return views;
  let next: ServiceView = { ...view };
  if (e.type === "eas.v1.InstanceScheduled") next.placementBlocked = "";
  if (after.phase === InstancePhase.Ready && after.version === view.currentVersion) next.failuresSinceReady = 0;
  // An exit counts like a failed launch: a command that exits at once makes the service Failed within seconds.
  const failure = after.phase === InstancePhase.Failed || after.phase === InstancePhase.Exited;
  if (failure && countsAsCrashLoop(before, view)) {
    next = { ...next, failuresSinceReady: view.failuresSinceReady + 1, lastFailureReason: after.reason, lastFailureAt: after.since };
  }
  const { [instanceId]: _old, ...others } = view.instances;
  next.instances = hasEnded(after.phase) ? others : { ...others, [instanceId]: after };
  return dropIfGone({ ...views, [view.name]: settle(next) }, view.name);
}

/** The deployer's read model: every service with its versions and instances, for Get/List and the reconciler. */
export const serviceViewsProjection: Projection<ServiceViews> = {
  name: "service-views",
  version: 8,
  categories: [StreamCategory.service, StreamCategory.instance, StreamCategory.autoscaler],
  initialState: () => ({}),
  evolve(views: ServiceViews, recorded: RecordedEvent): ServiceViews {
    const e = decodeEvent(recorded);
    if (!e) return views;
    if (isInstanceEvent(e)) return evolveInstanceOf(views, e);
    switch (e.type) {
      case "eas.v1.ServiceCreated":
        return {
          ...views,
          [e.data.name]: settle({
            name: e.data.name,
            tokenSha256: serviceTokenSha256(e.data),
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
            converging: "Creating",
            instances: {},
          }),
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
          converging: converging(v, "Updating"),
        }));
      case "eas.v1.ServiceScaled":
        return withService(views, e.data.name, (v) => ({
          ...v,
          desiredReplicas: e.data.toReplicas,
          updatedAt: e.data.scaledAt,
          converging: converging(v, "Scaling"),
          lastScale: {
            fromReplicas: e.data.fromReplicas,
            toReplicas: e.data.toReplicas,
            cause: e.data.cause,
            reason: e.data.reason ?? "",
            at: e.data.scaledAt,
          },
        }));
      case "eas.v1.AutoscalerPolicySet":
        return withService(views, e.data.service, (v) => ({
          ...v,
          autoscaling: { minReplicas: e.data.policy?.minReplicas ?? 0, maxReplicas: e.data.policy?.maxReplicas ?? 0 },
        }));
      case "eas.v1.AutoscalerPolicyDeleted":
        return withService(views, e.data.service, ({ autoscaling: _gone, ...v }) => v);
      case "eas.v1.ServiceStopped":
        return withService(views, e.data.name, (v) => ({ ...v, stopped: true, updatedAt: e.data.stoppedAt, converging: "" }));
      case "eas.v1.ServiceStarted":
        return withService(views, e.data.name, (v) => ({
          ...v,
          stopped: false,
          failure: "",
          updatedAt: e.data.startedAt,
          converging: converging(v, "Starting"),
        }));
      case "eas.v1.ServiceRolledBack":
        return withService(views, e.data.name, (v) => ({
          ...v,
          currentVersion: e.data.toVersion,
          updatedAt: e.data.rolledBackAt,
          ...NO_CRASH_LOOP,
          converging: converging(v, "Updating"),
        }));
      case "eas.v1.ServicePlacementBlocked":
        return withService(views, e.data.name, (v) => ({ ...v, placementBlocked: e.data.reason }));
      case "eas.v1.ServiceDeploymentFailed":
        return withService(views, e.data.name, (v) => ({ ...v, failure: e.data.reason }));
      default:
        return views;
    }
  },
};

import type { RecordedEvent } from "@eas/event-store";
import { decodeEvent, serviceTokenSha256, StreamCategory, type EasEvent } from "@eas/events";
import { absentInstance, evolveInstance, hasEnded, isInstanceEvent, isRoutable, type InstanceLifecycle } from "@eas/instance-lifecycle";
import type { Projection } from "@eas/projections";
import type { AsyncConfig } from "@eas/proto";
import type { AsyncRoute, RouteEntry } from "../proxy/index.js";

interface RoutedService {
  /** SHA-256 (hex) of the token: all the gateway ever knows of it (ADR 0027). */
  tokenSha256: string;
  keepaliveMs: number;
  maxConcurrency: number;
  maxQueueSize: number;
  rateLimit: number;
  /** Present for an async service (`metadata.type: "Async"`). */
  async?: AsyncRoute;
  stopped: boolean;
  /** The replica count the service wants (0: scaled to zero). */
  desiredReplicas: number;
  /** The scheduler's reason why an instance cannot be placed, until one is placed. */
  placementBlocked: string;
  /** An autoscaling policy with min 0 applies: requests at zero instances are held, not refused. */
  scaleFromZero?: boolean;
  /**
   * Live instances (until Stopped or Failed), folded with the shared lifecycle fold: Ready ones are routed, and
   * so are those that were Ready when their node was lost (they may well still answer; one that refuses a
   * connection is ejected and the request retried elsewhere) until they are drained. No late event brings
   * back a Draining or ended one.
   */
  instances: Record<string, InstanceLifecycle>;
}

export type RoutesState = Record<string, RoutedService>;

/** Defaults when a spec leaves rpc settings out (the spec parser normally fills them). */
const RPC_DEFAULTS = { keepaliveMs: 5_000, maxConcurrency: 32, maxQueueSize: 64, rateLimit: 0 };

function rpcOf(spec: { rpc?: { keepaliveMs: number; maxConcurrency: number; maxQueueSize: number; rateLimit: number } } | undefined) {
  const rpc = spec?.rpc;
  return {
    keepaliveMs: rpc?.keepaliveMs || RPC_DEFAULTS.keepaliveMs,
    maxConcurrency: rpc?.maxConcurrency || RPC_DEFAULTS.maxConcurrency,
    maxQueueSize: rpc?.maxQueueSize ?? RPC_DEFAULTS.maxQueueSize,
    rateLimit: rpc?.rateLimit ?? RPC_DEFAULTS.rateLimit,
  };
}

function asyncOf(spec: { async?: AsyncConfig | undefined } | undefined): { async?: AsyncRoute } {
  const config = spec?.async;
  if (!config) return {};
  return {
    async: {
      maxPayloadBytes: config.maxPayloadBytes,
      maxLength: config.maxLength,
      resultRetentionSeconds: config.resultRetentionSeconds,
    },
  };
}

function withInstanceEvent(state: RoutesState, e: EasEvent): RoutesState {
  if (!isInstanceEvent(e)) return state;
  const routed = state[e.data.service];
  if (!routed) return state;
  const { instanceId } = e.data;
  const before = routed.instances[instanceId] ?? absentInstance(instanceId);
  const after = evolveInstance(before, e);
  if (after === before) return state;
  const { [instanceId]: _old, ...others } = routed.instances;
  const instances = hasEnded(after.phase) ? others : { ...others, [instanceId]: after };
  // A placement ends the block, as in the deployer's view.
  const placementBlocked = e.type === "eas.v1.InstanceScheduled" ? "" : routed.placementBlocked;
  return { ...state, [e.data.service]: { ...routed, instances, placementBlocked } };
}

/** The service an event concerns, for route-change notifications. */
export function serviceOf(event: EasEvent): string | undefined {
  const data = event.data as { name?: string; service?: string };
  return data.service ?? data.name;
}

/**
 * The gateway's routing table as a projection: token digests, rpc limits, the routable instances of each
 * service (Ready, or Lost after Ready), and why a service has none (stopped, scaled to zero, not placeable,
 * starting), for the 503 it answers.
 */
export const routesProjection: Projection<RoutesState> = {
  name: "routes",
  version: 5,
  categories: [StreamCategory.service, StreamCategory.instance, StreamCategory.autoscaler],
  initialState: () => ({}),
  evolve(state: RoutesState, recorded: RecordedEvent): RoutesState {
    const e = decodeEvent(recorded);
    if (!e) return state;
    switch (e.type) {
      case "eas.v1.ServiceCreated":
        return {
          ...state,
          [e.data.name]: {
            tokenSha256: serviceTokenSha256(e.data),
            ...rpcOf(e.data.spec),
            ...asyncOf(e.data.spec),
            stopped: false,
            desiredReplicas: e.data.spec?.instance ?? 0,
            placementBlocked: "",
            instances: {},
          },
        };
      case "eas.v1.ServiceUpdated": {
        // The deployer writes the replica count into every new version's spec (a merge keeps the scaled one).
        const routed = state[e.data.name];
        if (!routed) return state;
        const desiredReplicas = e.data.spec?.instance ?? routed.desiredReplicas;
        const { async: _previous, ...rest } = routed;
        return { ...state, [e.data.name]: { ...rest, ...rpcOf(e.data.spec), ...asyncOf(e.data.spec), desiredReplicas } };
      }
      case "eas.v1.ServiceScaled": {
        const routed = state[e.data.name];
        return routed ? { ...state, [e.data.name]: { ...routed, desiredReplicas: e.data.toReplicas } } : state;
      }
      case "eas.v1.ServicePlacementBlocked": {
        const routed = state[e.data.name];
        return routed ? { ...state, [e.data.name]: { ...routed, placementBlocked: e.data.reason } } : state;
      }
      case "eas.v1.ServiceStopped":
      case "eas.v1.ServiceStarted": {
        const routed = state[e.data.name];
        return routed ? { ...state, [e.data.name]: { ...routed, stopped: e.type === "eas.v1.ServiceStopped" } } : state;
      }
      case "eas.v1.ServiceDeleted": {
        const { [e.data.name]: _deleted, ...rest } = state;
        return rest;
      }
      case "eas.v1.AutoscalerPolicySet":
      case "eas.v1.AutoscalerPolicyDeleted": {
        const routed = state[e.data.service];
        if (!routed) return state;
        const scaleFromZero = e.type === "eas.v1.AutoscalerPolicySet" && e.data.policy?.minReplicas === 0;
        return { ...state, [e.data.service]: { ...routed, scaleFromZero } };
      }
      default:
        return withInstanceEvent(state, e);
    }
  },
};

/** The proxy's view of one service. */
export function toRouteEntry(service: string, routed: RoutedService): RouteEntry {
  const instances = Object.values(routed.instances)
    .filter(isRoutable)
    .map((i) => ({ id: i.instanceId, endpoint: i.endpoint, version: i.version }));
  return {
    service,
    tokenSha256: routed.tokenSha256,
    keepaliveMs: routed.keepaliveMs,
    maxConcurrency: routed.maxConcurrency,
    maxQueueSize: routed.maxQueueSize,
    rateLimit: routed.rateLimit,
    instances,
    ...routeState(routed, instances.length),
    ...(routed.async ? { async: routed.async } : {}),
    scaleFromZero: routed.scaleFromZero === true,
  };
}

/** Why the service has (no) Ready instance, most telling first: what the user did, then what blocks it. */
function routeState(routed: RoutedService, ready: number): Pick<RouteEntry, "state" | "stateReason"> {
  if (routed.stopped) return { state: "stopped", stateReason: "" };
  if (ready > 0) return { state: "running", stateReason: "" };
  if (routed.desiredReplicas === 0) return { state: "scaled-to-zero", stateReason: "" };
  if (routed.placementBlocked) return { state: "waiting", stateReason: routed.placementBlocked };
  return { state: "starting", stateReason: "" };
}

import type { RecordedEvent } from "@eas/event-store";
import { decodeEvent, StreamCategory, type EasEvent } from "@eas/events";
import { absentInstance, evolveInstance, hasEnded, InstancePhase, isInstanceEvent, type InstanceLifecycle } from "@eas/instance-lifecycle";
import type { Projection } from "@eas/projections";
import type { RouteEntry } from "../proxy/index.js";

interface RoutedService {
  token: string;
  keepaliveMs: number;
  maxConcurrency: number;
  maxQueueSize: number;
  rateLimit: number;
  stopped: boolean;
  /** An autoscaling policy with min 0 applies: requests at zero instances are held, not refused. */
  scaleFromZero?: boolean;
  /**
   * Live instances (until Stopped or Failed), folded with the shared lifecycle fold: only Ready ones are
   * routed, and no late event brings back a Draining or ended one.
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

function withInstanceEvent(state: RoutesState, e: EasEvent): RoutesState {
  if (!isInstanceEvent(e)) return state;
  const routed = state[e.data.service];
  if (!routed) return state;
  const { instanceId } = e.data;
  const before = routed.instances[instanceId] ?? absentInstance(instanceId);
  const after = evolveInstance(before, e);
  if (after === before) return state;
  const { [instanceId]: _old, ...others } = routed.instances;
  return { ...state, [e.data.service]: { ...routed, instances: hasEnded(after.phase) ? others : { ...others, [instanceId]: after } } };
}

/** The service an event concerns, for route-change notifications. */
export function serviceOf(event: EasEvent): string | undefined {
  const data = event.data as { name?: string; service?: string };
  return data.service ?? data.name;
}

/** The gateway's routing table as a projection: tokens, rpc limits and the Ready instances of each service. */
export const routesProjection: Projection<RoutesState> = {
  name: "routes",
  version: 3,
  categories: [StreamCategory.service, StreamCategory.instance, StreamCategory.autoscaler],
  initialState: () => ({}),
  evolve(state: RoutesState, recorded: RecordedEvent): RoutesState {
    const e = decodeEvent(recorded);
    if (!e) return state;
    switch (e.type) {
      case "eas.v1.ServiceCreated":
        return { ...state, [e.data.name]: { token: e.data.token, ...rpcOf(e.data.spec), stopped: false, instances: {} } };
      case "eas.v1.ServiceUpdated": {
        const routed = state[e.data.name];
        return routed ? { ...state, [e.data.name]: { ...routed, ...rpcOf(e.data.spec) } } : state;
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
    .filter((i) => i.phase === InstancePhase.Ready)
    .map((i) => ({ id: i.instanceId, endpoint: i.endpoint, version: i.version }));
  return {
    service,
    token: routed.token,
    keepaliveMs: routed.keepaliveMs,
    maxConcurrency: routed.maxConcurrency,
    maxQueueSize: routed.maxQueueSize,
    rateLimit: routed.rateLimit,
    instances,
    state: routed.stopped ? "stopped" : instances.length > 0 ? "running" : "starting",
    scaleFromZero: routed.scaleFromZero === true,
  };
}

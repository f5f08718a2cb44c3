import type { RecordedEvent } from "@eas/event-store";
import { decodeEvent, StreamCategory, type EasEvent } from "@eas/events";
import type { Projection } from "@eas/projections";
import type { RouteEntry } from "../proxy/index.js";

interface RoutedService {
  token: string;
  keepaliveMs: number;
  maxConcurrency: number;
  maxQueueSize: number;
  rateLimit: number;
  stopped: boolean;
  /** Ready instances: id -> endpoint and version. */
  ready: Record<string, { endpoint: string; version: number }>;
  /** Instances drained for good: a late InstanceReady must not route to them again. */
  drained: Record<string, true>;
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

function withoutInstance(state: RoutesState, service: string, instanceId: string): RoutesState {
  const routed = state[service];
  if (!routed || !(instanceId in routed.ready)) return state;
  const { [instanceId]: _gone, ...ready } = routed.ready;
  return { ...state, [service]: { ...routed, ready } };
}

/** The service an event concerns, for route-change notifications. */
export function serviceOf(event: EasEvent): string | undefined {
  const data = event.data as { name?: string; service?: string };
  return data.service ?? data.name;
}

/** The gateway's routing table as a projection: tokens, rpc limits and the Ready instances of each service. */
export const routesProjection: Projection<RoutesState> = {
  name: "routes",
  version: 1,
  categories: [StreamCategory.service, StreamCategory.instance],
  initialState: () => ({}),
  evolve(state: RoutesState, recorded: RecordedEvent): RoutesState {
    const e = decodeEvent(recorded);
    if (!e) return state;
    switch (e.type) {
      case "eas.v1.ServiceCreated":
        return { ...state, [e.data.name]: { token: e.data.token, ...rpcOf(e.data.spec), stopped: false, ready: {}, drained: {} } };
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
      case "eas.v1.InstanceReady": {
        const routed = state[e.data.service];
        if (!routed || routed.drained[e.data.instanceId]) return state;
        return {
          ...state,
          [e.data.service]: {
            ...routed,
            ready: { ...routed.ready, [e.data.instanceId]: { endpoint: e.data.endpoint, version: e.data.version } },
          },
        };
      }
      case "eas.v1.InstanceDraining": {
        const routed = state[e.data.service];
        if (!routed) return state;
        const drained = withoutInstance(state, e.data.service, e.data.instanceId);
        return { ...drained, [e.data.service]: { ...drained[e.data.service]!, drained: { ...routed.drained, [e.data.instanceId]: true } } };
      }
      case "eas.v1.InstanceStopped":
      case "eas.v1.InstanceFailed": {
        const routed = state[e.data.service];
        if (!routed) return state;
        const { [e.data.instanceId]: _forgotten, ...drained } = routed.drained;
        const without = withoutInstance(state, e.data.service, e.data.instanceId);
        return { ...without, [e.data.service]: { ...without[e.data.service]!, drained } };
      }
      case "eas.v1.InstanceUnhealthy":
      case "eas.v1.InstanceExited":
        return withoutInstance(state, e.data.service, e.data.instanceId);
      default:
        return state;
    }
  },
};

/** The proxy's view of one service. */
export function toRouteEntry(service: string, routed: RoutedService): RouteEntry {
  const instances = Object.entries(routed.ready).map(([id, { endpoint, version }]) => ({ id, endpoint, version }));
  return {
    service,
    token: routed.token,
    keepaliveMs: routed.keepaliveMs,
    maxConcurrency: routed.maxConcurrency,
    maxQueueSize: routed.maxQueueSize,
    rateLimit: routed.rateLimit,
    instances,
    state: routed.stopped ? "stopped" : instances.length > 0 ? "running" : "starting",
  };
}

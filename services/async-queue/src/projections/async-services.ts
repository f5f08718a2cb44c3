import type { RecordedEvent } from "@eas/event-store";
import { decodeEvent, StreamCategory, type EasEvent } from "@eas/events";
import { absentInstance, evolveInstance, hasEnded, isInstanceEvent, isRoutable, type InstanceLifecycle } from "@eas/instance-lifecycle";
import type { AsyncConfig, ServiceSpec } from "@eas/proto";

/** A service as the async-queue sees it. Standard services are kept too, so a batch job on one is refused by name. */
export interface QueuedService {
  readonly name: string;
  /** The queue settings; undefined for a standard (synchronous) service. */
  readonly async: AsyncConfig | undefined;
  /** Requests each instance runs at once (`rpc.worker_threads`). */
  readonly concurrency: number;
  readonly stopped: boolean;
  /** Live instances of an async service, folded with the shared lifecycle fold; ended ones are forgotten. */
  readonly instances: Readonly<Record<string, InstanceLifecycle>>;
}

export type AsyncServicesState = Record<string, QueuedService>;

/** Concurrency where a spec says nothing (the spec parser normally fills it). */
const DEFAULT_CONCURRENCY = 5;

function settingsOf(spec: ServiceSpec | undefined): Pick<QueuedService, "async" | "concurrency"> {
  return { async: spec?.async, concurrency: spec?.rpc?.maxConcurrency || DEFAULT_CONCURRENCY };
}

function withInstanceEvent(state: AsyncServicesState, e: EasEvent): AsyncServicesState {
  if (!isInstanceEvent(e)) return state;
  const service = state[e.data.service];
  if (!service?.async) return state;
  const { instanceId } = e.data;
  const before = service.instances[instanceId] ?? absentInstance(instanceId);
  const after = evolveInstance(before, e);
  if (after === before) return state;
  const { [instanceId]: _old, ...others } = service.instances;
  return { ...state, [service.name]: { ...service, instances: hasEnded(after.phase) ? others : { ...others, [instanceId]: after } } };
}

/** The services, their queue settings and, for async ones, their live instances. */
export const asyncServicesProjection = {
  name: "async-services",
  version: 2,
  categories: [StreamCategory.service, StreamCategory.instance],
  initialState: (): AsyncServicesState => ({}),
  evolve(state: AsyncServicesState, recorded: RecordedEvent): AsyncServicesState {
    const e = decodeEvent(recorded);
    if (!e) return state;
    switch (e.type) {
      case "eas.v1.ServiceCreated":
        return { ...state, [e.data.name]: { name: e.data.name, ...settingsOf(e.data.spec), stopped: false, instances: {} } };
      case "eas.v1.ServiceUpdated": {
        const service = state[e.data.name];
        return service ? { ...state, [e.data.name]: { ...service, ...settingsOf(e.data.spec) } } : state;
      }
      case "eas.v1.ServiceStopped":
      case "eas.v1.ServiceStarted": {
        const service = state[e.data.name];
        return service ? { ...state, [e.data.name]: { ...service, stopped: e.type === "eas.v1.ServiceStopped" } } : state;
      }
      case "eas.v1.ServiceDeleted": {
        const { [e.data.name]: _deleted, ...rest } = state;
        return rest;
      }
      default:
        return withInstanceEvent(state, e);
    }
  },
};

/** The service an event concerns (for change notifications). */
export function serviceOfEvent(recorded: RecordedEvent): string | undefined {
  const e = decodeEvent(recorded);
  if (!e) return undefined;
  const data = e.data as { name?: string; service?: string };
  return data.service ?? data.name;
}

/**
 * The instances requests may be sent to, the same ones the gateway routes to: Ready, or Lost after Ready (the
 * process may still answer; an attempt that fails is redelivered to another instance), with an endpoint.
 */
export function servingInstances(service: QueuedService): InstanceLifecycle[] {
  return Object.values(service.instances).filter((i) => isRoutable(i) && i.endpoint !== "");
}

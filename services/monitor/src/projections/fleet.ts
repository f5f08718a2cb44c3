import type { RecordedEvent } from "@eas/event-store";
import { decodeEvent, StreamCategory } from "@eas/events";
import type { Projection } from "@eas/projections";

export interface FleetInstance {
  version: number;
  ready: boolean;
}

export interface FleetService {
  currentVersion: number;
  instances: Record<string, FleetInstance>;
}

/** The services the log knows and their instances: for validating names, `instances_ready` and versions of instances. */
export type FleetState = Record<string, FleetService>;

function withInstance(
  state: FleetState,
  service: string,
  id: string,
  update: (current: FleetInstance | undefined) => FleetInstance | undefined,
) {
  const known = state[service];
  if (!known) return state;
  const next = update(known.instances[id]);
  const { [id]: _old, ...others } = known.instances;
  return { ...state, [service]: { ...known, instances: next ? { ...others, [id]: next } : others } };
}

/** The monitor's view of services and instances, from the lifecycle events. */
export const fleetProjection: Projection<FleetState> = {
  name: "monitor-fleet",
  version: 1,
  categories: [StreamCategory.service, StreamCategory.instance],
  initialState: () => ({}),
  evolve(state: FleetState, recorded: RecordedEvent): FleetState {
    const e = decodeEvent(recorded);
    if (!e) return state;
    switch (e.type) {
      case "eas.v1.ServiceCreated":
        return { ...state, [e.data.name]: { currentVersion: e.data.version, instances: {} } };
      case "eas.v1.ServiceUpdated": {
        const known = state[e.data.name];
        return known ? { ...state, [e.data.name]: { ...known, currentVersion: e.data.version } } : state;
      }
      case "eas.v1.ServiceRolledBack": {
        const known = state[e.data.name];
        return known ? { ...state, [e.data.name]: { ...known, currentVersion: e.data.toVersion } } : state;
      }
      case "eas.v1.ServiceDeleted": {
        const { [e.data.name]: _gone, ...rest } = state;
        return rest;
      }
      case "eas.v1.InstanceScheduled":
        return withInstance(state, e.data.service, e.data.instanceId, () => ({ version: e.data.version, ready: false }));
      case "eas.v1.InstanceReady":
        return withInstance(state, e.data.service, e.data.instanceId, (current) => ({
          version: e.data.version || current?.version || 0,
          ready: true,
        }));
      case "eas.v1.InstanceStarting":
      case "eas.v1.InstanceUnhealthy":
      case "eas.v1.InstanceExited":
      case "eas.v1.InstanceDraining":
        return withInstance(state, e.data.service, e.data.instanceId, (current) => current && { ...current, ready: false });
      case "eas.v1.InstanceStopped":
      case "eas.v1.InstanceFailed":
        return withInstance(state, e.data.service, e.data.instanceId, () => undefined);
      default:
        return state;
    }
  },
};

export function readyInstances(state: FleetState, service: string): number {
  const known = state[service];
  if (!known) return 0;
  let ready = 0;
  for (const instance of Object.values(known.instances)) if (instance.ready) ready++;
  return ready;
}

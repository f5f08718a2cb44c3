import type { RecordedEvent } from "@eas/event-store";
import { decodeEvent, StreamCategory } from "@eas/events";
import { absentInstance, evolveInstance, hasEnded, InstancePhase, isInstanceEvent, type InstanceLifecycle } from "@eas/instance-lifecycle";
import type { Projection } from "@eas/projections";

export interface FleetService {
  currentVersion: number;
  /** Live instances (until Stopped or Failed), folded with the shared lifecycle fold. */
  instances: Record<string, InstanceLifecycle>;
}

/** The services the log knows and their instances: for validating names, `instances_ready` and versions of instances. */
export type FleetState = Record<string, FleetService>;

/** The monitor's view of services and instances, from the lifecycle events. */
export const fleetProjection: Projection<FleetState> = {
  name: "monitor-fleet",
  version: 2,
  categories: [StreamCategory.service, StreamCategory.instance],
  initialState: () => ({}),
  evolve(state: FleetState, recorded: RecordedEvent): FleetState {
    const e = decodeEvent(recorded);
    if (!e) return state;
    if (isInstanceEvent(e)) {
      const known = state[e.data.service];
      if (!known) return state;
      const before = known.instances[e.data.instanceId] ?? absentInstance(e.data.instanceId);
      const after = evolveInstance(before, e);
      if (after === before) return state;
      const { [e.data.instanceId]: _old, ...others } = known.instances;
      return {
        ...state,
        [e.data.service]: { ...known, instances: hasEnded(after.phase) ? others : { ...others, [e.data.instanceId]: after } },
      };
    }
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
      default:
        return state;
    }
  },
};

export function readyInstances(state: FleetState, service: string): number {
  const known = state[service];
  if (!known) return 0;
  let ready = 0;
  for (const instance of Object.values(known.instances)) if (instance.phase === InstancePhase.Ready) ready++;
  return ready;
}

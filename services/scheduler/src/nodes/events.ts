import type {
  InstanceFailed,
  InstanceScheduled,
  InstanceStopped,
  NodeCordoned,
  NodeLost,
  NodeRegistered,
  NodeUncordoned,
} from "@eas/proto";

/** CloudEvents `type` of each event the scheduler's cluster view reads (the proto message's full name). */
export const ClusterEventType = {
  NodeRegistered: "eas.v1.NodeRegistered",
  NodeCordoned: "eas.v1.NodeCordoned",
  NodeUncordoned: "eas.v1.NodeUncordoned",
  NodeLost: "eas.v1.NodeLost",
  InstanceScheduled: "eas.v1.InstanceScheduled",
  InstanceStopped: "eas.v1.InstanceStopped",
  InstanceFailed: "eas.v1.InstanceFailed",
} as const;
export type ClusterEventType = (typeof ClusterEventType)[keyof typeof ClusterEventType];

export interface NodeRegisteredEvent {
  readonly type: typeof ClusterEventType.NodeRegistered;
  readonly data: NodeRegistered;
}
export interface NodeCordonedEvent {
  readonly type: typeof ClusterEventType.NodeCordoned;
  readonly data: NodeCordoned;
}
export interface NodeUncordonedEvent {
  readonly type: typeof ClusterEventType.NodeUncordoned;
  readonly data: NodeUncordoned;
}
export interface NodeLostEvent {
  readonly type: typeof ClusterEventType.NodeLost;
  readonly data: NodeLost;
}
export interface InstanceScheduledEvent {
  readonly type: typeof ClusterEventType.InstanceScheduled;
  readonly data: InstanceScheduled;
}
export interface InstanceStoppedEvent {
  readonly type: typeof ClusterEventType.InstanceStopped;
  readonly data: InstanceStopped;
}
export interface InstanceFailedEvent {
  readonly type: typeof ClusterEventType.InstanceFailed;
  readonly data: InstanceFailed;
}

/** Events of the Node aggregate (stream "node-<id>"), the ones {@link decideNode} emits. */
export type NodeEvent = NodeRegisteredEvent | NodeCordonedEvent | NodeUncordonedEvent | NodeLostEvent;
/** Instance events that take or free capacity on a node. */
export type AllocationEvent = InstanceScheduledEvent | InstanceStoppedEvent | InstanceFailedEvent;
/** Every event {@link evolveCluster} reads. */
export type ClusterEvent = NodeEvent | AllocationEvent;

const clusterEventTypes: ReadonlySet<string> = new Set(Object.values(ClusterEventType));

/** True when the event's type is one the cluster view reads; use it to filter a decoded log. */
export function isClusterEvent(event: { readonly type: string; readonly data: unknown }): event is ClusterEvent {
  return clusterEventTypes.has(event.type);
}

export { NodeStatus, Pool, PUBLIC_POOL, emptyCluster, poolOf, type Allocation, type ClusterState, type NodeState } from "./types.js";
export {
  NodeCommandType,
  type CordonNode,
  type Heartbeat,
  type MarkNodeLost,
  type NodeCommand,
  type RegisterNode,
  type UncordonNode,
} from "./commands.js";
export {
  ClusterEventType,
  isClusterEvent,
  type AllocationEvent,
  type ClusterEvent,
  type InstanceFailedEvent,
  type InstanceScheduledEvent,
  type InstanceStoppedEvent,
  type NodeCordonedEvent,
  type NodeEvent,
  type NodeLostEvent,
  type NodeRegisteredEvent,
  type NodeUncordonedEvent,
} from "./events.js";
export { NodeCommandRejected, NodeRejectionCode } from "./errors.js";
export { decideNode } from "./decider.js";
export { allocationsOn, applyHeartbeat, evolveCluster, evolveNode, findLostNodes, toNodeInfo } from "./projection.js";
export {
  allocatedResources,
  freeCapacity,
  gpuMemoryPerCard,
  isSharedGpu,
  needsGpu,
  nodeUsage,
  sameResources,
  zeroResources,
  type FreeCapacity,
  type NodeUsage,
} from "./resources.js";

export {
  NodeCommandType,
  type CordonNode,
  type MarkNodeLost,
  type MarkNodeReclaimed,
  type NoticeReclaim,
  type NodeCommand,
  type RegisterNode,
  type UncordonNode,
} from "./node-commands.js";
export { NodeCommandRejected, NodeRejectionCode } from "./node-errors.js";
export { decideNode, evolveNode, nodeDecider, toDomainError } from "./node-decider.js";
export { NodeStatus, Pool, PUBLIC_POOL, epochMs, poolOf, type Allocation, type NodeEvent, type NodeState } from "./node.js";
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

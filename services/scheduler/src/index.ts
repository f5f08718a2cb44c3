export { schedulerConfigSpec } from "./config.js";
export { createHeartbeatTracker, type HeartbeatTracker } from "./heartbeats/tracker.js";
export { subscribeToHeartbeats } from "./heartbeats/subscriber.js";
export {
  missedHeartbeatsReason,
  nodeLostReason,
  startLostNodeMonitor,
  type LostNodeCheck,
  type LostNodeMonitor,
  type LostNodeMonitorDeps,
} from "./heartbeats/lost-nodes.js";
export { createSchedulerApi, createSchedulerHandlers, type SchedulerApiDeps, type SchedulerHandlers } from "./api/scheduler-api.js";
export {
  clusterFromSnapshot,
  clusterProjection,
  clusterToSnapshot,
  describeCluster,
  type ClusterSnapshot,
  type NodeSnapshot,
  type NodeSummary,
} from "./projections/cluster.js";

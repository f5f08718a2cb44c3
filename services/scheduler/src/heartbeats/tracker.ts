import { applyHeartbeat, type ClusterState } from "../projections/evolve-cluster.js";

/**
 * Last-heartbeat times of the nodes, kept in memory only: heartbeats are
 * telemetry, never events. Times are this process's clock at receipt, not the
 * agent's `at`, so clock skew between machines cannot make a node look lost
 * (or alive).
 */
export interface HeartbeatTracker {
  /** Epoch ms at which this process started tracking: the start of every node's grace period. */
  readonly startedAt: number;
  /**
   * A sign of life of the node's agent (a heartbeat, a registration) at `atMs`; `agentAddress` is the address
   * it came from, when it says (registrations and heartbeats of current agents do).
   */
  record(nodeId: string, atMs: number, agentAddress?: string): void;
  /** Epoch ms of the latest heartbeat this process received from the node, if any. */
  lastSeen(nodeId: string): number | undefined;
  /**
   * Whether this process has heard from the node's agent at `agentAddress` since it started: the address of
   * the previous run of a cluster restarted over its log is not current until the agent shows up there.
   */
  heardAt(nodeId: string, agentAddress: string): boolean;
  /**
   * The cluster with each node's `lastHeartbeatAt` raised to what this process
   * has seen, or, for a node not heard from since start, to {@link startedAt}:
   * a scheduler restart gives every node one heartbeat timeout to show up
   * instead of declaring all of them lost.
   */
  overlay(cluster: ClusterState): ClusterState;
}

/** A tracker whose grace period starts at `startedAt` (epoch ms). */
export function createHeartbeatTracker(options: { startedAt: number }): HeartbeatTracker {
  const { startedAt } = options;
  const seen = new Map<string, number>();
  const addresses = new Map<string, string>();
  return {
    startedAt,
    record(nodeId, atMs, agentAddress) {
      if (atMs > (seen.get(nodeId) ?? Number.NEGATIVE_INFINITY)) seen.set(nodeId, atMs);
      if (agentAddress) addresses.set(nodeId, agentAddress);
    },
    lastSeen: (nodeId) => seen.get(nodeId),
    heardAt: (nodeId, agentAddress) => agentAddress !== "" && addresses.get(nodeId) === agentAddress,
    overlay(cluster) {
      let state = cluster;
      for (const nodeId of cluster.nodes.keys()) {
        state = applyHeartbeat(state, { type: "Heartbeat", nodeId, now: seen.get(nodeId) ?? startedAt });
      }
      return state;
    },
  };
}

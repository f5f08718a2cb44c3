import type { RecordedEvent } from "@eas/event-store";
import { decodeEvent, StreamCategory } from "@eas/events";
import type { Projection } from "@eas/projections";
import type { InstanceLifecycle } from "@eas/instance-lifecycle";
import { allocatedResources, type Allocation, type NodeState } from "../domain/index.js";
import { emptyCluster, evolveCluster, isClusterEvent, type ClusterState } from "./evolve-cluster.js";

/** JSON form of one node in a {@link ClusterSnapshot}: the allocations map becomes a list. */
export interface NodeSnapshot extends Omit<NodeState, "allocations"> {
  readonly allocations: readonly Allocation[];
}

/** JSON form of {@link ClusterState} (Maps do not survive JSON), as stored in the projection checkpoint. */
export interface ClusterSnapshot {
  readonly nodes: readonly NodeSnapshot[];
  /** The lifecycle of every instance holding an allocation. */
  readonly instances: readonly InstanceLifecycle[];
}

/** Turns the cluster view into plain JSON for a checkpoint. */
export function clusterToSnapshot(state: ClusterState): ClusterSnapshot {
  return {
    nodes: [...state.nodes.values()].map((node) => ({ ...node, allocations: [...node.allocations.values()] })),
    instances: [...state.instances.values()],
  };
}

/** Rebuilds the cluster view from {@link clusterToSnapshot}'s output. */
export function clusterFromSnapshot(snapshot: unknown): ClusterState {
  const { nodes, instances } = snapshot as ClusterSnapshot;
  return {
    nodes: new Map(
      nodes.map((node): [string, NodeState] => [
        node.id,
        { ...node, allocations: new Map(node.allocations.map((allocation) => [allocation.instanceId, allocation])) },
      ]),
    ),
    instances: new Map(instances.map((instance) => [instance.instanceId, instance])),
  };
}

/**
 * The scheduler's read model: every node (registration, status) and every
 * allocation, folded from the node and instance streams with `evolveCluster`
 * (instances with the shared lifecycle fold).
 * Placement decisions are taken on this state.
 */
export const clusterProjection: Projection<ClusterState> = {
  name: "cluster",
  // 3: nodes carry their instance type and reclaim deadline, instances their Lost and move fields.
  version: 3,
  categories: [StreamCategory.node, StreamCategory.instance],
  initialState: emptyCluster,
  evolve(state: ClusterState, recorded: RecordedEvent): ClusterState {
    const event = decodeEvent(recorded);
    return event !== undefined && isClusterEvent(event) ? evolveCluster(state, event) : state;
  },
  toSnapshot: clusterToSnapshot,
  fromSnapshot: clusterFromSnapshot,
};

/** One node as /debug/projections shows it. */
export interface NodeSummary {
  readonly status: string;
  readonly statusReason: string;
  readonly resourceGroup: string;
  readonly spot: boolean;
  readonly agentAddress: string;
  readonly capacity: NodeState["capacity"];
  readonly allocated: NodeState["capacity"];
  readonly instances: readonly string[];
  /** ISO time of the latest sign of life: registration or heartbeat. */
  readonly lastHeartbeat: string;
}

/**
 * A compact JSON view of the cluster for /debug/projections, keyed by node id.
 * `lastSeen` adds the heartbeats that only live in memory (epoch ms per node).
 */
export function describeCluster(
  state: ClusterState,
  lastSeen: (nodeId: string) => number | undefined = () => undefined,
): Record<string, NodeSummary> {
  const summary: Record<string, NodeSummary> = {};
  for (const node of [...state.nodes.values()].sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0))) {
    summary[node.id] = {
      status: node.status,
      statusReason: node.statusReason,
      resourceGroup: node.resourceGroup,
      spot: node.spot,
      agentAddress: node.agentAddress,
      capacity: node.capacity,
      allocated: allocatedResources(node),
      instances: [...node.allocations.keys()].sort(),
      lastHeartbeat: new Date(Math.max(node.lastHeartbeatAt, lastSeen(node.id) ?? 0)).toISOString(),
    };
  }
  return summary;
}

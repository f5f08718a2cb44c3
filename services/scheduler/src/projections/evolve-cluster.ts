import type { EasEvent } from "@eas/events";
import {
  absentInstance,
  evolveInstance,
  hasEnded,
  InstancePhase,
  isInstanceEvent,
  type InstanceEvent,
  type InstanceLifecycle,
} from "@eas/instance-lifecycle";
import type { NodeInfo } from "@eas/proto";
import {
  allocatedResources,
  epochMs,
  evolveNode,
  NodeStatus,
  Pool,
  poolOf,
  zeroResources,
  type Allocation,
  type NodeEvent,
  type NodeState,
} from "../domain/index.js";

/** The scheduler's read model: every node, and every instance that holds a place on one. */
export interface ClusterState {
  readonly nodes: ReadonlyMap<string, NodeState>;
  /**
   * instanceId -> its lifecycle (the shared fold), for every instance that holds an allocation: from its
   * InstanceScheduled until it is Stopped or Failed.
   */
  readonly instances: ReadonlyMap<string, InstanceLifecycle>;
}

/** A cluster with no nodes: the state before the first event. */
export function emptyCluster(): ClusterState {
  return { nodes: new Map(), instances: new Map() };
}

/** Every event {@link evolveCluster} reads: the Node aggregate's and the instance lifecycle's. */
export type ClusterEvent = NodeEvent | InstanceEvent;

const NODE_EVENT_TYPES: ReadonlySet<string> = new Set([
  "eas.v1.NodeRegistered",
  "eas.v1.NodeCordoned",
  "eas.v1.NodeUncordoned",
  "eas.v1.NodeLost",
  "eas.v1.NodeReclaimNoticed",
  "eas.v1.NodeReclaimed",
]);

/** True when the event is one the cluster view reads; use it to filter a decoded log. */
export function isClusterEvent(event: EasEvent): event is ClusterEvent {
  return NODE_EVENT_TYPES.has(event.type) || isInstanceEvent(event);
}

/**
 * A liveness signal from an agent. Not a command and never an event (heartbeats are telemetry):
 * {@link applyHeartbeat} folds it into the projection. Time in epoch ms, as the tracker measures it.
 */
export interface Heartbeat {
  readonly type: "Heartbeat";
  readonly nodeId: string;
  readonly now: number;
}

/**
 * Folds one event into the whole cluster view: node registrations and status, and allocations. Instance
 * events go through the shared lifecycle fold (`evolveInstance`): InstanceScheduled takes capacity on its
 * node, the end of the instance's life (Stopped or Failed) gives it back, and an event the state machine
 * does not allow changes nothing (a second InstanceScheduled, anything after the end).
 * Returns a new state; the input is not modified.
 */
export function evolveCluster(cluster: ClusterState, event: ClusterEvent): ClusterState {
  if (isInstanceEvent(event)) return evolveAllocation(cluster, event);
  const before = cluster.nodes.get(event.data.nodeId);
  const after = evolveNode(before, event);
  if (after === undefined || after === before) return cluster;
  return { ...cluster, nodes: new Map(cluster.nodes).set(after.id, after) };
}

function evolveAllocation(cluster: ClusterState, event: InstanceEvent): ClusterState {
  const { instanceId } = event.data;
  const held = cluster.instances.get(instanceId);
  // An instance is tracked from its InstanceScheduled; the events of one never placed (an agent running it
  // by hand) take nothing.
  if (held === undefined && event.type !== "eas.v1.InstanceScheduled") return cluster;
  const before = held ?? absentInstance(instanceId);
  const after = evolveInstance(before, event);
  if (after === before) return cluster;
  if (hasEnded(after.phase)) return release(cluster, instanceId);
  if (before.phase === InstancePhase.Absent && event.type === "eas.v1.InstanceScheduled") {
    const node = cluster.nodes.get(event.data.nodeId);
    if (node === undefined) return cluster;
    const { data } = event;
    const allocation: Allocation = {
      instanceId,
      service: data.service,
      version: data.version,
      resources: { ...(data.resources ?? zeroResources()) },
      pool: data.pool === Pool.Dedicated || data.pool === Pool.Public ? data.pool : poolOf(node),
      spot: data.spot,
      scheduledAt: epochMs(data.at, 0),
    };
    return {
      nodes: new Map(cluster.nodes).set(node.id, { ...node, allocations: new Map(node.allocations).set(instanceId, allocation) }),
      instances: new Map(cluster.instances).set(instanceId, after),
    };
  }
  return { ...cluster, instances: new Map(cluster.instances).set(instanceId, after) };
}

function release(cluster: ClusterState, instanceId: string): ClusterState {
  const held = cluster.instances.get(instanceId);
  if (held === undefined) return cluster;
  const instances = new Map(cluster.instances);
  instances.delete(instanceId);
  const node = cluster.nodes.get(held.nodeId);
  if (node === undefined) return { ...cluster, instances };
  const allocations = new Map(node.allocations);
  allocations.delete(instanceId);
  return { nodes: new Map(cluster.nodes).set(node.id, { ...node, allocations }), instances };
}

/** The node an instance holds a place on, if it holds one. */
export function placementOf(cluster: ClusterState, instanceId: string): string | undefined {
  return cluster.instances.get(instanceId)?.nodeId;
}

/**
 * Records an agent's heartbeat in the projection (heartbeats are telemetry,
 * not events). Unknown nodes are ignored: their agent must register. A
 * heartbeat does not revive a Lost node either; only a registration does.
 */
export function applyHeartbeat(cluster: ClusterState, heartbeat: Heartbeat): ClusterState {
  const node = cluster.nodes.get(heartbeat.nodeId);
  if (node === undefined || heartbeat.now <= node.lastHeartbeatAt) return cluster;
  return { ...cluster, nodes: new Map(cluster.nodes).set(node.id, { ...node, lastHeartbeatAt: heartbeat.now }) };
}

/** Ids (sorted) of nodes not yet Lost (nor reclaimed) whose last heartbeat is older than `heartbeatTimeoutMs` at `nowMs`. */
export function findLostNodes(cluster: ClusterState, nowMs: number, heartbeatTimeoutMs: number): string[] {
  return [...cluster.nodes.values()]
    .filter(
      (node) =>
        node.status !== NodeStatus.Lost && node.status !== NodeStatus.Reclaimed && nowMs - node.lastHeartbeatAt > heartbeatTimeoutMs,
    )
    .map((node) => node.id)
    .sort();
}

/** Ids (sorted) of nodes with a reclaim notice whose deadline has come at `nowMs` and that are not marked Reclaimed yet. */
export function findReclaimDue(cluster: ClusterState, nowMs: number): string[] {
  return [...cluster.nodes.values()]
    .filter((node) => node.reclaimDeadline > 0 && node.reclaimDeadline <= nowMs && node.status !== NodeStatus.Reclaimed)
    .map((node) => node.id)
    .sort();
}

/** The allocations on one node, e.g. to fail the instances of a node just marked Lost. */
export function allocationsOn(cluster: ClusterState, nodeId: string): Allocation[] {
  return [...(cluster.nodes.get(nodeId)?.allocations.values() ?? [])];
}

/**
 * The node in the shape of the Scheduler API's NodeInfo. `agentConnected`: whether the scheduler heard from
 * the agent at its registered address in this run (not a fact of the log: the caller knows).
 */
export function toNodeInfo(node: NodeState, agentConnected = false): NodeInfo {
  return {
    nodeId: node.id,
    capacity: { ...node.capacity },
    allocated: allocatedResources(node),
    resourceGroup: node.resourceGroup,
    spot: node.spot,
    pricePerHour: node.pricePerHour,
    agentAddress: node.agentAddress,
    rates: { ...node.rates },
    status: node.status,
    instanceCount: node.allocations.size,
    lastHeartbeat: new Date(node.lastHeartbeatAt).toISOString(),
    agentConnected,
    instanceType: node.instanceType,
    reclaimDeadline: node.reclaimDeadline > 0 && node.status === NodeStatus.Reclaiming ? new Date(node.reclaimDeadline).toISOString() : "",
    statusReason: node.statusReason,
  };
}

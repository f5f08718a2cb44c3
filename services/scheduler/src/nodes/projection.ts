import type { NodeInfo } from "@eas/proto";
import type { Heartbeat } from "./commands.js";
import { ClusterEventType, type ClusterEvent, type NodeEvent } from "./events.js";
import { allocatedResources, zeroResources } from "./resources.js";
import { NodeStatus, Pool, poolOf, type Allocation, type ClusterState, type NodeState } from "./types.js";

/**
 * Folds one Node aggregate event into the node's state (undefined before its
 * first registration). Total: events for an unknown node are ignored, except
 * NodeRegistered which creates it.
 *
 * Re-registration keeps the node's allocations (its instances are freed only
 * by their own InstanceStopped/InstanceFailed events) and its Cordoned status
 * (an agent restart does not undo an operator's cordon), and brings a Lost
 * node back to Ready.
 */
export function evolveNode(node: NodeState | undefined, event: NodeEvent): NodeState | undefined {
  switch (event.type) {
    case ClusterEventType.NodeRegistered: {
      const { data } = event;
      const at = epochMs(data.at, node?.registeredAt ?? 0);
      const lost = node === undefined || node.status === NodeStatus.Lost;
      return {
        id: data.nodeId,
        capacity: { ...(data.capacity ?? zeroResources()) },
        resourceGroup: data.resourceGroup,
        spot: data.spot,
        pricePerHour: data.pricePerHour,
        agentAddress: data.agentAddress,
        labels: { ...data.labels },
        status: lost ? NodeStatus.Ready : node.status,
        statusReason: lost ? "" : node.statusReason,
        registeredAt: at,
        lastHeartbeatAt: Math.max(at, node?.lastHeartbeatAt ?? 0),
        allocations: node?.allocations ?? new Map(),
      };
    }
    case ClusterEventType.NodeCordoned:
      return node && { ...node, status: NodeStatus.Cordoned, statusReason: event.data.reason };
    case ClusterEventType.NodeUncordoned:
      return node && { ...node, status: NodeStatus.Ready, statusReason: "" };
    case ClusterEventType.NodeLost:
      return node && { ...node, status: NodeStatus.Lost, statusReason: event.data.reason };
  }
}

/**
 * Folds one event into the whole cluster view: node registrations and status,
 * and allocations (InstanceScheduled takes capacity, moving the instance if it
 * was placed elsewhere; InstanceStopped and InstanceFailed free it).
 * Returns a new state; the input is not modified. Idempotent for repeated events.
 */
export function evolveCluster(cluster: ClusterState, event: ClusterEvent): ClusterState {
  switch (event.type) {
    case ClusterEventType.NodeRegistered:
    case ClusterEventType.NodeCordoned:
    case ClusterEventType.NodeUncordoned:
    case ClusterEventType.NodeLost: {
      const before = cluster.nodes.get(event.data.nodeId);
      const after = evolveNode(before, event);
      if (after === undefined || after === before) return cluster;
      return { ...cluster, nodes: new Map(cluster.nodes).set(after.id, after) };
    }
    case ClusterEventType.InstanceScheduled: {
      const { data } = event;
      const freed = release(cluster, data.instanceId);
      const node = freed.nodes.get(data.nodeId);
      if (node === undefined) return freed;
      const allocation: Allocation = {
        instanceId: data.instanceId,
        service: data.service,
        version: data.version,
        resources: { ...(data.resources ?? zeroResources()) },
        pool: data.pool === Pool.Dedicated || data.pool === Pool.Public ? data.pool : poolOf(node),
        spot: data.spot,
        scheduledAt: epochMs(data.at, 0),
      };
      const allocations = new Map(node.allocations).set(data.instanceId, allocation);
      return {
        nodes: new Map(freed.nodes).set(node.id, { ...node, allocations }),
        placements: new Map(freed.placements).set(data.instanceId, node.id),
      };
    }
    case ClusterEventType.InstanceStopped: {
      const { instanceId, nodeId } = event.data;
      // A stop reported by a node the instance has since moved away from must not free its new place.
      if (nodeId !== "" && cluster.placements.get(instanceId) !== nodeId) return cluster;
      return release(cluster, instanceId);
    }
    case ClusterEventType.InstanceFailed:
      return release(cluster, event.data.instanceId);
  }
}

function release(cluster: ClusterState, instanceId: string): ClusterState {
  const nodeId = cluster.placements.get(instanceId);
  if (nodeId === undefined) return cluster;
  const placements = new Map(cluster.placements);
  placements.delete(instanceId);
  const node = cluster.nodes.get(nodeId);
  if (node === undefined) return { ...cluster, placements };
  const allocations = new Map(node.allocations);
  allocations.delete(instanceId);
  return { nodes: new Map(cluster.nodes).set(nodeId, { ...node, allocations }), placements };
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

/** Ids (sorted) of nodes not yet Lost whose last heartbeat is older than `heartbeatTimeoutMs` at `nowMs`. */
export function findLostNodes(cluster: ClusterState, nowMs: number, heartbeatTimeoutMs: number): string[] {
  return [...cluster.nodes.values()]
    .filter((node) => node.status !== NodeStatus.Lost && nowMs - node.lastHeartbeatAt > heartbeatTimeoutMs)
    .map((node) => node.id)
    .sort();
}

/** The allocations on one node, e.g. to fail the instances of a node just marked Lost. */
export function allocationsOn(cluster: ClusterState, nodeId: string): Allocation[] {
  return [...(cluster.nodes.get(nodeId)?.allocations.values() ?? [])];
}

/** The node in the shape of the Scheduler API's NodeInfo. */
export function toNodeInfo(node: NodeState): NodeInfo {
  return {
    nodeId: node.id,
    capacity: { ...node.capacity },
    allocated: allocatedResources(node),
    resourceGroup: node.resourceGroup,
    spot: node.spot,
    pricePerHour: node.pricePerHour,
    agentAddress: node.agentAddress,
    status: node.status,
    instanceCount: node.allocations.size,
    lastHeartbeat: new Date(node.lastHeartbeatAt).toISOString(),
  };
}

function epochMs(iso: string, fallback: number): number {
  const ms = Date.parse(iso);
  return Number.isNaN(ms) ? fallback : ms;
}

import { isResourceId, RESOURCE_ID_RULE } from "@eas/contracts";
import type { Resources } from "@eas/proto";
import { NodeCommandType, type NodeCommand, type RegisterNode } from "./commands.js";
import { NodeCommandRejected, NodeRejectionCode } from "./errors.js";
import { ClusterEventType, type NodeEvent } from "./events.js";
import { sameResources } from "./resources.js";
import { NodeStatus, type NodeState } from "./types.js";

/**
 * Decides what a node command means, given the node's current state
 * (`cluster.nodes.get(command.nodeId)`, or undefined for a node never seen).
 *
 * - RegisterNode: a new node, a changed registration, or a Lost node coming
 *   back gives NodeRegistered; repeating the same registration of a live node
 *   gives nothing (agents re-register on every reconnect).
 * - CordonNode / UncordonNode: idempotent; refused for unknown or Lost nodes.
 * - MarkNodeLost: idempotent; refused for unknown nodes.
 *
 * @throws NodeCommandRejected for unknown nodes, Lost nodes (cordon/uncordon) and malformed commands.
 */
export function decideNode(command: NodeCommand, node: NodeState | undefined): NodeEvent[] {
  const at = timestamp(command);
  if (node !== undefined && node.id !== command.nodeId) {
    throw reject(command, NodeRejectionCode.InvalidCommand, `state is for node ${JSON.stringify(node.id)}`);
  }
  switch (command.type) {
    case NodeCommandType.RegisterNode: {
      validateRegistration(command);
      if (node !== undefined && node.status !== NodeStatus.Lost && sameRegistration(command, node)) return [];
      return [
        {
          type: ClusterEventType.NodeRegistered,
          data: {
            nodeId: command.nodeId,
            capacity: { ...command.capacity },
            resourceGroup: command.resourceGroup,
            spot: command.spot,
            pricePerHour: command.pricePerHour,
            agentAddress: command.agentAddress,
            labels: { ...command.labels },
            at,
          },
        },
      ];
    }
    case NodeCommandType.CordonNode: {
      const known = requireLive(command, node);
      if (known.status === NodeStatus.Cordoned) return [];
      return [{ type: ClusterEventType.NodeCordoned, data: { nodeId: command.nodeId, reason: command.reason, at } }];
    }
    case NodeCommandType.UncordonNode: {
      const known = requireLive(command, node);
      if (known.status === NodeStatus.Ready) return [];
      return [{ type: ClusterEventType.NodeUncordoned, data: { nodeId: command.nodeId, at } }];
    }
    case NodeCommandType.MarkNodeLost: {
      const known = requireKnown(command, node);
      if (known.status === NodeStatus.Lost) return [];
      return [{ type: ClusterEventType.NodeLost, data: { nodeId: command.nodeId, reason: command.reason, at } }];
    }
  }
}

function timestamp(command: NodeCommand): string {
  if (!Number.isFinite(command.now) || command.now < 0) {
    throw reject(command, NodeRejectionCode.InvalidCommand, `now must be epoch milliseconds, got ${command.now}`);
  }
  return new Date(command.now).toISOString();
}

function validateRegistration(command: RegisterNode): void {
  // Node ids become part of stream names ("node-<id>") and NATS subjects: the rule every service checks ids by.
  if (!isResourceId(command.nodeId)) {
    throw reject(command, NodeRejectionCode.InvalidCommand, `node id must be ${RESOURCE_ID_RULE}`);
  }
  const capacity: Resources = command.capacity;
  for (const field of ["cpuMillis", "memoryMib", "gpu", "gpuMemoryGib"] as const) {
    const value = capacity[field];
    if (!Number.isInteger(value) || value < 0) {
      throw reject(command, NodeRejectionCode.InvalidCommand, `capacity.${field} must be a non-negative integer, got ${value}`);
    }
  }
  if (capacity.gpu === 0 && capacity.gpuMemoryGib > 0) {
    throw reject(command, NodeRejectionCode.InvalidCommand, "capacity.gpuMemoryGib needs capacity.gpu > 0");
  }
  if (!Number.isFinite(command.pricePerHour) || command.pricePerHour < 0) {
    throw reject(command, NodeRejectionCode.InvalidCommand, `pricePerHour must be >= 0, got ${command.pricePerHour}`);
  }
  if (command.agentAddress.trim() === "") {
    throw reject(command, NodeRejectionCode.InvalidCommand, "agentAddress is required");
  }
}

function sameRegistration(command: RegisterNode, node: NodeState): boolean {
  return (
    sameResources(command.capacity, node.capacity) &&
    command.resourceGroup === node.resourceGroup &&
    command.spot === node.spot &&
    command.pricePerHour === node.pricePerHour &&
    command.agentAddress === node.agentAddress &&
    sameLabels(command.labels, node.labels)
  );
}

function sameLabels(a: Readonly<Record<string, string>>, b: Readonly<Record<string, string>>): boolean {
  const keys = Object.keys(a);
  return keys.length === Object.keys(b).length && keys.every((key) => Object.hasOwn(b, key) && a[key] === b[key]);
}

function requireKnown(command: NodeCommand, node: NodeState | undefined): NodeState {
  if (node === undefined) throw reject(command, NodeRejectionCode.UnknownNode, "node is not registered");
  return node;
}

function requireLive(command: NodeCommand, node: NodeState | undefined): NodeState {
  const known = requireKnown(command, node);
  if (known.status === NodeStatus.Lost) {
    throw reject(command, NodeRejectionCode.NodeLost, "node is lost; its agent must register again");
  }
  return known;
}

function reject(command: NodeCommand, code: NodeRejectionCode, reason: string): NodeCommandRejected {
  return new NodeCommandRejected({ code, command: command.type, nodeId: command.nodeId, reason });
}

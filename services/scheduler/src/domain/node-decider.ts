import { FREE_RATES, isResourceId, RESOURCE_ID_RULE, rateViolations, type HourlyRates } from "@eas/contracts";
import { NotFoundError, PreconditionFailedError, ValidationError, type Decider, type DomainError } from "@eas/decider";
import { event } from "@eas/events";
import type { Resources } from "@eas/proto";
import { NodeCommandType, type NodeCommand, type RegisterNode } from "./node-commands.js";
import { NodeCommandRejected, NodeRejectionCode } from "./node-errors.js";
import { epochMs, NodeStatus, type NodeEvent, type NodeState } from "./node.js";
import { sameResources, zeroResources } from "./resources.js";

/**
 * Decides what a node command means, given the node's current state
 * (`cluster.nodes.get(command.nodeId)`, or undefined for a node never seen).
 *
 * - RegisterNode: a new node, a changed registration, or a Lost node coming
 *   back gives NodeRegistered; repeating the same registration of a live node
 *   gives nothing (agents re-register on every reconnect).
 * - CordonNode / UncordonNode: idempotent; refused for unknown or Lost nodes; a node being reclaimed stays
 *   out of service (cordoning it records nothing, uncordoning it is refused).
 * - MarkNodeLost: idempotent; refused for unknown nodes; nothing for a node already reclaimed.
 * - NoticeReclaim: spot nodes only; the first notice holds (a repeat records nothing); refused for a node
 *   that is Lost or reclaimed.
 * - MarkNodeReclaimed: only after a notice; idempotent.
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
      if (node !== undefined && !isGone(node) && sameRegistration(command, node)) return [];
      return [
        event("NodeRegistered", {
          nodeId: command.nodeId,
          capacity: { ...command.capacity },
          resourceGroup: command.resourceGroup,
          spot: command.spot,
          pricePerHour: command.pricePerHour,
          agentAddress: command.agentAddress,
          labels: { ...command.labels },
          at,
          rates: { ...command.rates },
          instanceType: command.instanceType,
        }),
      ];
    }
    case NodeCommandType.CordonNode: {
      const known = requireLive(command, node);
      if (known.status === NodeStatus.Cordoned || known.status === NodeStatus.Reclaiming) return [];
      return [event("NodeCordoned", { nodeId: command.nodeId, reason: command.reason, at })];
    }
    case NodeCommandType.UncordonNode: {
      const known = requireLive(command, node);
      if (known.status === NodeStatus.Ready) return [];
      if (known.status === NodeStatus.Reclaiming) {
        throw reject(command, NodeRejectionCode.NotApplicable, "node is being reclaimed; it takes no new instance");
      }
      return [event("NodeUncordoned", { nodeId: command.nodeId, at })];
    }
    case NodeCommandType.MarkNodeLost: {
      const known = requireKnown(command, node);
      if (known.status === NodeStatus.Lost || known.status === NodeStatus.Reclaimed) return [];
      return [event("NodeLost", { nodeId: command.nodeId, reason: command.reason, at })];
    }
    case NodeCommandType.NoticeReclaim: {
      const known = requireLive(command, node);
      if (!known.spot) {
        throw reject(command, NodeRejectionCode.NotApplicable, "node is not a spot node: only spot nodes are reclaimed");
      }
      if (known.status === NodeStatus.Reclaiming) return [];
      if (Number.isNaN(Date.parse(command.deadline))) {
        throw reject(
          command,
          NodeRejectionCode.InvalidCommand,
          `deadline must be an ISO 8601 time, got ${JSON.stringify(command.deadline)}`,
        );
      }
      return [event("NodeReclaimNoticed", { nodeId: command.nodeId, deadline: command.deadline, reason: command.reason, at })];
    }
    case NodeCommandType.MarkNodeReclaimed: {
      const known = requireKnown(command, node);
      if (known.status === NodeStatus.Reclaimed) return [];
      if (known.reclaimDeadline === 0) throw reject(command, NodeRejectionCode.NotApplicable, "node has no reclaim notice");
      return [event("NodeReclaimed", { nodeId: command.nodeId, reason: command.reason, at })];
    }
  }
}

/** Lost or Reclaimed: only a registration brings the node back. */
function isGone(node: NodeState): boolean {
  return node.status === NodeStatus.Lost || node.status === NodeStatus.Reclaimed;
}

function timestamp(command: NodeCommand): string {
  if (Number.isNaN(Date.parse(command.now))) {
    throw reject(command, NodeRejectionCode.InvalidCommand, `now must be an ISO 8601 time, got ${JSON.stringify(command.now)}`);
  }
  return command.now;
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
  const [badRate] = rateViolations(command.rates, "rates");
  if (badRate) throw reject(command, NodeRejectionCode.InvalidCommand, `${badRate.path} ${badRate.message}`);
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
    command.instanceType === node.instanceType &&
    command.agentAddress === node.agentAddress &&
    sameRates(command.rates, node.rates) &&
    sameLabels(command.labels, node.labels)
  );
}

function sameRates(a: HourlyRates, b: HourlyRates): boolean {
  return (
    a.cpuCoreHourMicros === b.cpuCoreHourMicros && a.memoryGibHourMicros === b.memoryGibHourMicros && a.gpuHourMicros === b.gpuHourMicros
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
  if (known.status === NodeStatus.Reclaimed) {
    throw reject(command, NodeRejectionCode.NodeLost, "node was reclaimed; an agent must register it again");
  }
  return known;
}

function reject(command: NodeCommand, code: NodeRejectionCode, reason: string): NodeCommandRejected {
  return new NodeCommandRejected({ code, command: command.type, nodeId: command.nodeId, reason });
}

/**
 * Folds one Node aggregate event into the node's state (undefined before its
 * first registration). Total: events for an unknown node are ignored, except
 * NodeRegistered which creates it.
 *
 * Re-registration keeps the node's allocations (its instances are freed only
 * by their own InstanceStopped/InstanceFailed events), its Cordoned status
 * (an agent restart does not undo an operator's cordon) and a reclaim notice,
 * and brings a Lost or Reclaimed node back to Ready.
 */
export function evolveNode(node: NodeState | undefined, event: NodeEvent): NodeState | undefined {
  switch (event.type) {
    case "eas.v1.NodeRegistered": {
      const { data } = event;
      const at = epochMs(data.at, node?.registeredAt ?? 0);
      const back = node === undefined || isGone(node);
      return {
        id: data.nodeId,
        capacity: { ...(data.capacity ?? zeroResources()) },
        resourceGroup: data.resourceGroup,
        spot: data.spot,
        pricePerHour: data.pricePerHour,
        instanceType: data.instanceType ?? "",
        agentAddress: data.agentAddress,
        labels: { ...data.labels },
        rates: { ...FREE_RATES, ...data.rates },
        status: back ? NodeStatus.Ready : node.status,
        statusReason: back ? "" : node.statusReason,
        reclaimDeadline: back ? 0 : node.reclaimDeadline,
        registeredAt: at,
        lastHeartbeatAt: Math.max(at, node?.lastHeartbeatAt ?? 0),
        allocations: node?.allocations ?? new Map(),
      };
    }
    case "eas.v1.NodeCordoned":
      return node && { ...node, status: NodeStatus.Cordoned, statusReason: event.data.reason };
    case "eas.v1.NodeUncordoned":
      return node && { ...node, status: NodeStatus.Ready, statusReason: "" };
    case "eas.v1.NodeLost":
      return node && { ...node, status: NodeStatus.Lost, statusReason: event.data.reason };
    case "eas.v1.NodeReclaimNoticed":
      return (
        node && {
          ...node,
          status: NodeStatus.Reclaiming,
          statusReason: `reclaim notice (${event.data.reason}): reclaimed at ${event.data.deadline}`,
          reclaimDeadline: epochMs(event.data.deadline, 0),
        }
      );
    case "eas.v1.NodeReclaimed":
      return node && { ...node, status: NodeStatus.Reclaimed, statusReason: event.data.reason };
  }
}

/**
 * The Node aggregate (stream "node-<id>") as a {@link Decider} for `executeCommand`.
 * The state is the node alone, without allocations: those live on instance
 * streams, and no node command depends on them. Rejections become the
 * `@eas/decider` errors that service-kit maps to gRPC codes.
 */
export const nodeDecider: Decider<NodeCommand, NodeEvent, NodeState | undefined> = {
  initialState: () => undefined,
  evolve: (node, e) => evolveNode(node, e) ?? node,
  decide(command, node) {
    try {
      return decideNode(command, node);
    } catch (error) {
      throw error instanceof NodeCommandRejected ? toDomainError(error) : error;
    }
  },
};

/** Maps a node rejection onto the error family that has a gRPC status. */
export function toDomainError(rejection: NodeCommandRejected): DomainError {
  switch (rejection.code) {
    case NodeRejectionCode.UnknownNode:
      return new NotFoundError("node", rejection.nodeId);
    case NodeRejectionCode.InvalidCommand:
      return new ValidationError([{ path: "", message: rejection.message }]);
    case NodeRejectionCode.NodeLost:
    case NodeRejectionCode.NotApplicable:
      return new PreconditionFailedError(rejection.message, { cause: rejection });
  }
}

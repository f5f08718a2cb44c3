import { randomUUID } from "node:crypto";
import { resourceIdProblem } from "@eas/contracts";
import { NotFoundError, PreconditionFailedError, ValidationError, type FieldViolation } from "@eas/decider";
import { VersionConflictError, type EventStore } from "@eas/event-store";
import { decodeEvent, instanceStream, nodeStream, toNewEvent } from "@eas/events";
import type { ProjectionRunner } from "@eas/projections";
import type {
  CordonNodeRequest,
  ListNodesRequest,
  ListNodesResponse,
  NodeInfo,
  PlaceInstanceRequest,
  PlaceInstanceResponse,
  RegisterNodeRequest,
  ReleaseInstanceRequest,
  ReleaseInstanceResponse,
  Resources,
  SchedulerServer,
} from "@eas/proto";
import { createMutex, executeCommand, unary } from "@eas/service-kit";
import { injectTraceContext, type Logger } from "@eas/telemetry";
import type { HeartbeatTracker } from "../heartbeats/tracker.js";
import {
  NodeCommandType,
  NodeStatus,
  toNodeInfo,
  zeroResources,
  type AllocationEvent,
  type ClusterState,
  type NodeCommand,
} from "../nodes/index.js";
import { defaultPlacementPolicy, instanceScheduled, place, type PlacementPolicy, type PlacementRequest } from "../placement/index.js";
import { InstanceAllocationCommandType, instanceAllocationDecider } from "./instance-allocation.js";
import { nodeDecider } from "./node-decider.js";

/** What the Scheduler API needs; `main.ts` wires the real ones. */
export interface SchedulerApiDeps {
  store: EventStore;
  /** The running cluster projection; placements are decided on its state. */
  cluster: ProjectionRunner<ClusterState>;
  heartbeats: HeartbeatTracker;
  logger: Logger;
  /** Epoch ms. */
  now: () => number;
  /** CloudEvents `source` of the events this API writes, e.g. "eas/scheduler/ab12cd34". */
  source: string;
  policy?: PlacementPolicy;
  /** How long a call waits for the projection to apply an append (read-your-writes). Default 10 s. */
  projectionWaitMs?: number;
}

/** The Scheduler API as plain async functions (what {@link createSchedulerApi} serves over gRPC). */
export interface SchedulerHandlers {
  registerNode(request: RegisterNodeRequest): Promise<NodeInfo>;
  listNodes(request: ListNodesRequest): Promise<ListNodesResponse>;
  cordonNode(request: CordonNodeRequest): Promise<NodeInfo>;
  placeInstance(request: PlaceInstanceRequest): Promise<PlaceInstanceResponse>;
  releaseInstance(request: ReleaseInstanceRequest): Promise<ReleaseInstanceResponse>;
}

/**
 * The Scheduler's request handlers. Node commands are decided on the node's
 * own stream; placements are decided on the cluster projection, one at a time
 * (an async mutex), and each answer waits until the projection has applied
 * what it wrote, so the next decision sees it.
 */
export function createSchedulerHandlers(deps: SchedulerApiDeps): SchedulerHandlers {
  const { store, cluster, heartbeats, source } = deps;
  const policy = deps.policy ?? defaultPlacementPolicy;
  const waitMs = deps.projectionWaitMs ?? 10_000;
  const placements = createMutex();

  /** Waits until the projection has applied `position`, or, without one, everything stored so far. */
  const settle = async (position: number | undefined): Promise<void> => {
    await cluster.waitForPosition(position ?? (await store.headPosition()), waitMs);
  };

  const nodeInfo = (nodeId: string): NodeInfo => {
    const node = cluster.state.nodes.get(nodeId);
    if (node === undefined) throw new NotFoundError("node", nodeId);
    const lastSeen = heartbeats.lastSeen(nodeId) ?? 0;
    return toNodeInfo(lastSeen > node.lastHeartbeatAt ? { ...node, lastHeartbeatAt: lastSeen } : node);
  };

  const runNodeCommand = async (command: NodeCommand): Promise<NodeInfo> => {
    const result = await executeCommand({ store, stream: nodeStream(command.nodeId), decider: nodeDecider, command, source });
    await settle(result.position);
    return nodeInfo(command.nodeId);
  };

  /** A retry of a placement that was already written: answers with the placement the instance holds. */
  const existingPlacement = async (instanceId: string): Promise<PlaceInstanceResponse> => {
    const recorded = await store.readStream(instanceStream(instanceId));
    let state = instanceAllocationDecider.initialState();
    for (const event of recorded) {
      const decoded = decodeEvent(event);
      if (decoded !== undefined) state = instanceAllocationDecider.evolve(state, decoded as AllocationEvent);
    }
    const { holding } = state;
    if (holding === undefined) {
      throw new PreconditionFailedError(`instance ${instanceId} was already placed and has ended; place a new instance id`);
    }
    await settle(recorded.at(-1)?.position);
    const node = cluster.state.nodes.get(holding.nodeId);
    if (node === undefined || node.status === NodeStatus.Lost) {
      throw new PreconditionFailedError(`instance ${instanceId} is on lost node ${holding.nodeId}; place a new instance id`);
    }
    return placedResponse(holding.nodeId, node.agentAddress, holding.pool);
  };

  return {
    async registerNode(request) {
      const violations = [...idViolations("nodeId", request.nodeId), ...resourceViolations("capacity", request.capacity, true)];
      if (!request.agentAddress.trim()) violations.push({ path: "agentAddress", message: "is required" });
      if (!Number.isFinite(request.pricePerHour) || request.pricePerHour < 0) {
        violations.push({ path: "pricePerHour", message: "must be a number >= 0" });
      }
      if (violations.length > 0) throw new ValidationError(violations);
      const now = deps.now();
      const result = await executeCommand({
        store,
        stream: nodeStream(request.nodeId),
        decider: nodeDecider,
        command: {
          type: NodeCommandType.RegisterNode,
          nodeId: request.nodeId,
          capacity: request.capacity ?? zeroResources(),
          resourceGroup: request.resourceGroup,
          spot: request.spot,
          pricePerHour: request.pricePerHour,
          agentAddress: request.agentAddress,
          labels: request.labels,
          now,
        },
        source,
      });
      // A registration is a sign of life: it restarts the node's heartbeat clock.
      heartbeats.record(request.nodeId, now);
      await settle(result.position);
      return nodeInfo(request.nodeId);
    },

    async listNodes() {
      const ids = [...cluster.state.nodes.keys()].sort();
      return { nodes: ids.map(nodeInfo) };
    },

    async cordonNode(request) {
      const violations = idViolations("nodeId", request.nodeId);
      if (violations.length > 0) throw new ValidationError(violations);
      const now = deps.now();
      return runNodeCommand(
        request.cordon
          ? { type: NodeCommandType.CordonNode, nodeId: request.nodeId, reason: request.reason || "cordoned by operator", now }
          : { type: NodeCommandType.UncordonNode, nodeId: request.nodeId, now },
      );
    },

    async placeInstance(request) {
      const violations = [...idViolations("instanceId", request.instanceId), ...resourceViolations("resources", request.resources, false)];
      if (!request.service) violations.push({ path: "service", message: "is required" });
      if (!Number.isFinite(request.maxSpotPrice) || request.maxSpotPrice < 0) {
        violations.push({ path: "maxSpotPrice", message: "must be a number >= 0" });
      }
      if (violations.length > 0) throw new ValidationError(violations);
      const placement: PlacementRequest = {
        instanceId: request.instanceId,
        service: request.service,
        version: request.version,
        resources: request.resources ?? zeroResources(),
        resourceGroup: request.resourceGroup,
        resourceBurstable: request.resourceBurstable,
        spotAllowed: request.spotAllowed,
        maxSpotPrice: request.maxSpotPrice,
      };
      // One decision at a time, each on a state that includes every placement before it:
      // two concurrent calls must never both take the last free capacity of a node.
      return placements.run(async () => {
        await settle(undefined);
        const state = cluster.state;
        const decision = place(placement, state, policy);
        if (!decision.placed) return { placed: false, nodeId: "", agentAddress: "", pool: "", reason: decision.reason };
        if (state.placements.get(placement.instanceId) === decision.nodeId) {
          return placedResponse(decision.nodeId, decision.agentAddress, decision.pool);
        }
        const event = instanceScheduled(placement, decision, deps.now());
        try {
          const appended = await store.append(
            instanceStream(placement.instanceId),
            [toNewEvent(event, randomUUID(), { source, ...injectTraceContext() })],
            { expectedRevision: "no_stream" },
          );
          await settle(appended.position);
        } catch (error) {
          if (error instanceof VersionConflictError) return existingPlacement(placement.instanceId);
          throw error;
        }
        return placedResponse(decision.nodeId, decision.agentAddress, decision.pool);
      });
    },

    async releaseInstance(request) {
      const violations = idViolations("instanceId", request.instanceId);
      if (violations.length > 0) throw new ValidationError(violations);
      const result = await executeCommand({
        store,
        stream: instanceStream(request.instanceId),
        decider: instanceAllocationDecider,
        command: { type: InstanceAllocationCommandType.ReleaseInstance, instanceId: request.instanceId, now: deps.now() },
        source,
      });
      if (result.position !== undefined) await settle(result.position);
      return {};
    },
  };
}

/** The `Scheduler` gRPC service: {@link createSchedulerHandlers} behind service-kit's error mapping. */
export function createSchedulerApi(deps: SchedulerApiDeps): SchedulerServer {
  const handlers = createSchedulerHandlers(deps);
  const { logger } = deps;
  return {
    registerNode: unary(logger, (request: RegisterNodeRequest) => handlers.registerNode(request)),
    listNodes: unary(logger, (request: ListNodesRequest) => handlers.listNodes(request)),
    cordonNode: unary(logger, (request: CordonNodeRequest) => handlers.cordonNode(request)),
    placeInstance: unary(logger, (request: PlaceInstanceRequest) => handlers.placeInstance(request)),
    releaseInstance: unary(logger, (request: ReleaseInstanceRequest) => handlers.releaseInstance(request)),
  };
}

function placedResponse(nodeId: string, agentAddress: string, pool: string): PlaceInstanceResponse {
  return { placed: true, nodeId, agentAddress, pool, reason: "" };
}

/** Node and instance ids become stream names and NATS subject tokens: the rule every service checks them by. */
function idViolations(path: string, id: string): FieldViolation[] {
  const problem = resourceIdProblem(id);
  return problem ? [{ path, message: problem }] : [];
}

function resourceViolations(path: string, resources: Resources | undefined, required: boolean): FieldViolation[] {
  if (resources === undefined) return required ? [{ path, message: "is required" }] : [];
  const violations: FieldViolation[] = [];
  for (const field of ["cpuMillis", "memoryMib", "gpu", "gpuMemoryGib"] as const) {
    const value = resources[field];
    if (!Number.isInteger(value) || value < 0) violations.push({ path: `${path}.${field}`, message: "must be a non-negative integer" });
  }
  return violations;
}

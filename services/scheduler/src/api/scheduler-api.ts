import { FREE_RATES, rateViolations, resourceIdProblem } from "@eas/contracts";
import { NotFoundError, PreconditionFailedError, ValidationError, type FieldViolation } from "@eas/decider";
import type { EventStore } from "@eas/event-store";
import { instanceStream, nodeStream } from "@eas/events";
import { InstanceCommandType, instanceLifecycleDecider } from "@eas/instance-lifecycle";
import type { ProjectionRunner } from "@eas/projections";
import type {
  CordonNodeRequest,
  ListNodesRequest,
  ListNodesResponse,
  NodeInfo,
  PlaceInstanceRequest,
  PlaceInstanceResponse,
  ReclaimNodeRequest,
  RegisterNodeRequest,
  ReleaseInstanceRequest,
  ReleaseInstanceResponse,
  Resources,
  SchedulerServer,
  SuggestRebalanceRequest,
  SuggestRebalanceResponse,
} from "@eas/proto";
import { createMutex, executeCommand, unary } from "@eas/service-kit";
import type { Logger } from "@eas/telemetry";
import { NodeCommandType, NodeStatus, nodeDecider, zeroResources, type NodeCommand } from "../domain/index.js";
import type { HeartbeatTracker } from "../heartbeats/tracker.js";
import { commandForInstanceOn } from "../heartbeats/lost-nodes.js";
import {
  awaitedNodes,
  defaultPlacementPolicy,
  fleetGraceReason,
  place,
  scheduleInstance,
  suggestRebalance,
  withConnectedAgents,
  type PlacementPolicy,
  type PlacementRequest,
} from "../placement/index.js";
import { placementOf, toNodeInfo, type ClusterState } from "../projections/evolve-cluster.js";

/** Reason of the InstanceStopped that ReleaseInstance records. */
export const RELEASED_REASON = "released";

/** What the Scheduler API needs; `main.ts` wires the real ones. */
export interface SchedulerApiDeps {
  store: EventStore;
  /** The running cluster projection; placements are decided on its state. */
  cluster: ProjectionRunner<ClusterState>;
  heartbeats: HeartbeatTracker;
  logger: Logger;
  /** Epoch ms (heartbeat times); commands carry it as an ISO 8601 time. */
  now: () => number;
  /** CloudEvents `source` of the events this API writes, e.g. "eas/scheduler/ab12cd34". */
  source: string;
  policy?: PlacementPolicy;
  /** How long a call waits for the projection to apply an append (read-your-writes). Default 10 s. */
  projectionWaitMs?: number;
  /**
   * After this process starts, placements wait this long at most for the nodes the log knows as Ready to
   * register or heartbeat again (0: no wait). Default 0; the scheduler's config sets one heartbeat timeout.
   */
  fleetGraceMs?: number;
}

/** The longest reclaim notice taken, 1 hour (clouds give 30 s to 2 min). */
export const MAX_RECLAIM_NOTICE_MS = 3_600_000;

/** The Scheduler API as plain async functions (what {@link createSchedulerApi} serves over gRPC). */
export interface SchedulerHandlers {
  registerNode(request: RegisterNodeRequest): Promise<NodeInfo>;
  listNodes(request: ListNodesRequest): Promise<ListNodesResponse>;
  cordonNode(request: CordonNodeRequest): Promise<NodeInfo>;
  placeInstance(request: PlaceInstanceRequest): Promise<PlaceInstanceResponse>;
  releaseInstance(request: ReleaseInstanceRequest): Promise<ReleaseInstanceResponse>;
  reclaimNode(request: ReclaimNodeRequest): Promise<NodeInfo>;
  suggestRebalance(request: SuggestRebalanceRequest): Promise<SuggestRebalanceResponse>;
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
    return toNodeInfo(
      lastSeen > node.lastHeartbeatAt ? { ...node, lastHeartbeatAt: lastSeen } : node,
      heartbeats.heardAt(nodeId, node.agentAddress),
    );
  };

  const runNodeCommand = async (command: NodeCommand): Promise<NodeInfo> => {
    const result = await executeCommand({ store, stream: nodeStream(command.nodeId), decider: nodeDecider, command, source });
    await settle(result.position);
    return nodeInfo(command.nodeId);
  };

  const isoNow = (): string => new Date(deps.now()).toISOString();

  /** The policy with its filters behind one more: the node's agent was heard from at its address in this run. */
  const connectedPolicy = (): PlacementPolicy => withConnectedAgents(policy, (node) => heartbeats.heardAt(node.id, node.agentAddress));

  /** The nodes a placement still waits for after this process started, and why; none once the grace is over. */
  const fleetGrace = (): string | undefined => {
    const graceMs = deps.fleetGraceMs ?? 0;
    if (deps.now() - heartbeats.startedAt >= graceMs) return undefined;
    const awaited = awaitedNodes(cluster.state, (nodeId) => heartbeats.lastSeen(nodeId) !== undefined);
    return awaited.length === 0 ? undefined : fleetGraceReason(awaited, graceMs);
  };

  const placementRequestViolations = (request: {
    resources?: Resources;
    maxSpotPrice: number;
    instanceTypes: { spotPriceLimit: number }[];
  }) => {
    const violations = resourceViolations("resources", request.resources, false);
    if (!Number.isFinite(request.maxSpotPrice) || request.maxSpotPrice < 0) {
      violations.push({ path: "maxSpotPrice", message: "must be a number >= 0" });
    }
    request.instanceTypes.forEach((choice, index) => {
      if (!Number.isFinite(choice.spotPriceLimit) || choice.spotPriceLimit < 0) {
        violations.push({ path: `instanceTypes[${index}].spotPriceLimit`, message: "must be a number >= 0" });
      }
    });
    return violations;
  };

  return {
    async registerNode(request) {
      const violations = [...idViolations("nodeId", request.nodeId), ...resourceViolations("capacity", request.capacity, true)];
      if (!request.agentAddress.trim()) violations.push({ path: "agentAddress", message: "is required" });
      if (!Number.isFinite(request.pricePerHour) || request.pricePerHour < 0) {
        violations.push({ path: "pricePerHour", message: "must be a number >= 0" });
      }
      violations.push(...rateViolations(request.rates, "rates"));
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
          instanceType: request.instanceType ?? "",
          agentAddress: request.agentAddress,
          labels: request.labels,
          rates: { ...FREE_RATES, ...request.rates },
          now: new Date(now).toISOString(),
        },
        source,
      });
      // A registration is a sign of life: it restarts the node's heartbeat clock, and its address is current.
      heartbeats.record(request.nodeId, now, request.agentAddress);
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
      const now = isoNow();
      return runNodeCommand(
        request.cordon
          ? { type: NodeCommandType.CordonNode, nodeId: request.nodeId, reason: request.reason || "cordoned by operator", now }
          : { type: NodeCommandType.UncordonNode, nodeId: request.nodeId, now },
      );
    },

    async placeInstance(request) {
      const violations = [...idViolations("instanceId", request.instanceId), ...placementRequestViolations(request)];
      if (!request.service) violations.push({ path: "service", message: "is required" });
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
        instanceTypes: request.instanceTypes,
      };
      // One decision at a time, each on a state that includes every placement before it:
      // two concurrent calls must never both take the last free capacity of a node.
      return placements.run(async () => {
        await settle(undefined);
        const state = cluster.state;
        // A retried placement of an instance already placed answers where it is, grace or not.
        const waiting = placementOf(state, placement.instanceId) === undefined ? fleetGrace() : undefined;
        if (waiting !== undefined) return { placed: false, nodeId: "", agentAddress: "", pool: "", reason: waiting };
        // Only on agents heard from at their registered address in this run (never at a stale one).
        const decision = place(placement, state, connectedPolicy());
        if (!decision.placed) return { placed: false, nodeId: "", agentAddress: "", pool: "", reason: decision.reason };
        // Through the instance lifecycle: an instance is scheduled once, as the first event of its stream.
        // A retry of a placement already written decides nothing and answers the placement the stream holds;
        // an instance whose life is over is FAILED_PRECONDITION (a placement needs a new id).
        const result = await executeCommand({
          store,
          stream: instanceStream(placement.instanceId),
          decider: instanceLifecycleDecider,
          command: scheduleInstance(placement, decision, isoNow()),
          source,
        });
        await settle(result.position ?? result.readPosition);
        if (result.events.length > 0) return placedResponse(decision.nodeId, decision.agentAddress, decision.pool);
        const held = result.state;
        const node = cluster.state.nodes.get(held.nodeId);
        if (node === undefined || node.status === NodeStatus.Lost) {
          throw new PreconditionFailedError(`instance ${placement.instanceId} is on lost node ${held.nodeId}; place a new instance id`);
        }
        return placedResponse(held.nodeId, node.agentAddress, held.pool);
      });
    },

    async releaseInstance(request) {
      const violations = idViolations("instanceId", request.instanceId);
      if (violations.length > 0) throw new ValidationError(violations);
      await settle(undefined);
      // Nothing when the instance holds no place (never placed, or already ended).
      const nodeId = placementOf(cluster.state, request.instanceId);
      if (nodeId === undefined) return {};
      const result = await executeCommand({
        store,
        stream: instanceStream(request.instanceId),
        decider: instanceLifecycleDecider,
        command: {
          type: InstanceCommandType.ReportStopped,
          instanceId: request.instanceId,
          nodeId,
          reason: RELEASED_REASON,
          onlyOnNode: nodeId,
          now: isoNow(),
        },
        source,
      });
      if (result.position !== undefined) await settle(result.position);
      return {};
    },

    async reclaimNode(request) {
      const violations = idViolations("nodeId", request.nodeId);
      if (!Number.isInteger(request.noticeMs) || request.noticeMs <= 0 || request.noticeMs > MAX_RECLAIM_NOTICE_MS) {
        violations.push({ path: "noticeMs", message: `must be a whole number of ms from 1 to ${MAX_RECLAIM_NOTICE_MS}` });
      }
      if (violations.length > 0) throw new ValidationError(violations);
      const now = deps.now();
      const info = await runNodeCommand({
        type: NodeCommandType.NoticeReclaim,
        nodeId: request.nodeId,
        deadline: new Date(now + request.noticeMs).toISOString(),
        reason: request.reason.trim() || "reclaim notice",
        now: new Date(now).toISOString(),
      });
      // Move what runs there at once (the lost-node monitor does it too, after a crash in between).
      const node = cluster.state.nodes.get(request.nodeId);
      for (const instanceId of node?.allocations.keys() ?? []) {
        const instance = cluster.state.instances.get(instanceId);
        const command = node && instance && commandForInstanceOn(node, instance, isoNow());
        if (!command) continue;
        const result = await executeCommand({
          store,
          stream: instanceStream(instanceId),
          decider: instanceLifecycleDecider,
          command,
          source,
        });
        await settle(result.position ?? result.readPosition);
      }
      return info;
    },

    async suggestRebalance(request) {
      const violations = placementRequestViolations(request);
      if (!request.service) violations.push({ path: "service", message: "is required" });
      if (violations.length > 0) throw new ValidationError(violations);
      await settle(undefined);
      const waiting = fleetGrace();
      if (waiting !== undefined) return { move: false, instanceId: "", fromNode: "", toNode: "", reason: waiting };
      const suggestion = suggestRebalance(
        {
          service: request.service,
          resources: request.resources ?? zeroResources(),
          resourceGroup: request.resourceGroup,
          resourceBurstable: request.resourceBurstable,
          spotAllowed: request.spotAllowed,
          maxSpotPrice: request.maxSpotPrice,
          instanceTypes: request.instanceTypes,
          candidates: request.instanceIds,
        },
        cluster.state,
        connectedPolicy(),
      );
      return suggestion.move
        ? {
            move: true,
            instanceId: suggestion.instanceId,
            fromNode: suggestion.fromNode,
            toNode: suggestion.toNode,
            reason: suggestion.reason,
          }
        : { move: false, instanceId: "", fromNode: "", toNode: "", reason: suggestion.reason };
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
    reclaimNode: unary(logger, (request: ReclaimNodeRequest) => handlers.reclaimNode(request)),
    suggestRebalance: unary(logger, (request: SuggestRebalanceRequest) => handlers.suggestRebalance(request)),
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

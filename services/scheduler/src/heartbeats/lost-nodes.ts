import type { EventStore } from "@eas/event-store";
import { instanceStream, nodeStream } from "@eas/events";
import type { ProjectionRunner } from "@eas/projections";
import {
  InstanceCommandType,
  InstancePhase,
  instanceLifecycleDecider,
  isLeavingService,
  MoveCause,
  type InstanceCommand,
} from "@eas/instance-lifecycle";
import { executeCommand } from "@eas/service-kit";
import type { Logger } from "@eas/telemetry";
import { NodeCommandType, NodeStatus, nodeDecider, type NodeCommand, type NodeState } from "../domain/index.js";
import { findLostNodes, findReclaimDue, type ClusterState } from "../projections/evolve-cluster.js";
import type { HeartbeatTracker } from "./tracker.js";

/** What the lost-node monitor needs; `main.ts` wires the real ones. */
export interface LostNodeMonitorDeps {
  store: EventStore;
  cluster: ProjectionRunner<ClusterState>;
  heartbeats: HeartbeatTracker;
  /** A node is lost once it has sent no heartbeat for longer than this. */
  heartbeatTimeoutMs: number;
  /** Time between two checks. */
  intervalMs: number;
  /** Epoch ms. */
  now: () => number;
  logger: Logger;
  source: string;
  /** How long a check waits for the projection to apply what it wrote. Default 10 s. */
  projectionWaitMs?: number;
}

/** What one check did. */
export interface LostNodeCheck {
  /** Nodes marked Lost by this check. */
  readonly lostNodes: readonly string[];
  /** Instances marked Lost by this check because their node is Lost. */
  readonly lostInstances: readonly string[];
  /** Nodes marked Reclaimed by this check: their reclaim deadline has come. */
  readonly reclaimedNodes: readonly string[];
  /** Instances asked to move by this check because their node is being reclaimed. */
  readonly movedInstances: readonly string[];
  /** Instances failed by this check because their node was reclaimed. */
  readonly failedInstances: readonly string[];
}

/** A running monitor. */
export interface LostNodeMonitor {
  /** Runs one check now (the loop runs them every `intervalMs`); checks never overlap. */
  check(): Promise<LostNodeCheck>;
  /** Stops the loop and waits for a check in progress. */
  stop(): Promise<void>;
}

/** Node lost because of missing heartbeats: the reason NodeLost records. */
export function missedHeartbeatsReason(timeoutMs: number): string {
  return `no heartbeat for more than ${timeoutMs} ms`;
}

/** The reason InstanceLost records for an instance on a lost node (the deployer replaces it, the gateway keeps routing it). */
export function nodeLostReason(nodeId: string): string {
  return `node ${nodeId} lost`;
}

/** The reason NodeReclaimed and the InstanceFailed of what was still on the node record. */
export function nodeReclaimedReason(nodeId: string): string {
  return `node ${nodeId} reclaimed`;
}

/** The reason of the InstanceMoveRequested written for each instance of a node with a reclaim notice. */
export function reclaimMoveReason(node: Pick<NodeState, "id">, deadline: string): string {
  return `spot node ${node.id} is reclaimed at ${deadline}`;
}

/**
 * The lifecycle command each instance still on `node` needs because of the node's status, or undefined:
 * Lost: MarkLost (the process may still serve); Reclaiming: RequestMove (replaced before the deadline);
 * Reclaimed: FailInstance (the machine is gone). An instance the projection already shows there is skipped.
 */
export function commandForInstanceOn(
  node: NodeState,
  instance: { instanceId: string; phase: InstancePhase; moveCause: string },
  now: string,
): InstanceCommand | undefined {
  const { instanceId } = instance;
  switch (node.status) {
    case NodeStatus.Lost:
      if (instance.phase === InstancePhase.Lost || isLeavingService(instance.phase)) return undefined;
      return { type: InstanceCommandType.MarkLost, instanceId, reason: nodeLostReason(node.id), onlyOnNode: node.id, now };
    case NodeStatus.Reclaiming: {
      if (instance.moveCause === MoveCause.Reclaim || isLeavingService(instance.phase)) return undefined;
      const deadline = new Date(node.reclaimDeadline).toISOString();
      return {
        type: InstanceCommandType.RequestMove,
        instanceId,
        cause: MoveCause.Reclaim,
        reason: reclaimMoveReason(node, deadline),
        deadline,
        onlyOnNode: node.id,
        now,
      };
    }
    case NodeStatus.Reclaimed:
      return { type: InstanceCommandType.FailInstance, instanceId, reason: nodeReclaimedReason(node.id), onlyOnNode: node.id, now };
    default:
      return undefined;
  }
}

/**
 * Every `intervalMs`, looks after the nodes that left service and their instances:
 *
 * 1. marks nodes whose heartbeats stopped Lost (NodeLost), and spot nodes whose reclaim deadline has come
 *    Reclaimed (NodeReclaimed, at the deadline);
 * 2. for every instance still allocated on such a node: on a Lost node, InstanceLost (not an end: the deployer
 *    starts replacements, the gateway keeps routing to it while it answers); on a node with a reclaim notice,
 *    InstanceMoveRequested (cause "reclaim", with the deadline); on a Reclaimed node, InstanceFailed.
 *
 * Step 2 looks at every such node, not only the ones just marked, so what a crash between the steps left
 * undone is done after a restart. Nothing is decided before the projection has caught up with the log.
 */
export function startLostNodeMonitor(deps: LostNodeMonitorDeps): LostNodeMonitor {
  const { store, cluster, heartbeats, logger, source } = deps;
  const waitMs = deps.projectionWaitMs ?? 10_000;
  let inFlight: Promise<LostNodeCheck> | undefined;
  let timer: NodeJS.Timeout | undefined;
  let stopped = false;

  /** Runs a node command; true when it wrote something (then the projection has it). */
  const runNodeCommand = async (command: NodeCommand): Promise<boolean> => {
    const result = await executeCommand({ store, stream: nodeStream(command.nodeId), decider: nodeDecider, command, source });
    if (result.position === undefined) return false;
    await cluster.waitForPosition(result.position, waitMs);
    return true;
  };

  const runCheck = async (): Promise<LostNodeCheck> => {
    const done: LostNodeCheck = { lostNodes: [], lostInstances: [], reclaimedNodes: [], movedInstances: [], failedInstances: [] };
    if (!cluster.isCaughtUp()) return done;
    const now = deps.now();
    const at = new Date(now).toISOString();
    const lostNodes: string[] = [];
    for (const nodeId of findLostNodes(heartbeats.overlay(cluster.state), now, deps.heartbeatTimeoutMs)) {
      const reason = missedHeartbeatsReason(deps.heartbeatTimeoutMs);
      if (!(await runNodeCommand({ type: NodeCommandType.MarkNodeLost, nodeId, reason, now: at }))) continue;
      lostNodes.push(nodeId);
      logger.warn({ nodeId, timeoutMs: deps.heartbeatTimeoutMs }, "node lost: heartbeats stopped");
    }
    const reclaimedNodes: string[] = [];
    for (const nodeId of findReclaimDue(cluster.state, now)) {
      const deadline = new Date(cluster.state.nodes.get(nodeId)?.reclaimDeadline ?? now).toISOString();
      // The reclaim happened at the deadline, whenever this check runs: billing stops there.
      const command = { type: NodeCommandType.MarkNodeReclaimed, nodeId, reason: nodeReclaimedReason(nodeId), now: deadline } as const;
      if (!(await runNodeCommand(command))) continue;
      reclaimedNodes.push(nodeId);
      logger.warn({ nodeId, deadline }, "node reclaimed");
    }

    const touched: Record<InstanceCommand["type"], string[]> = {
      ScheduleInstance: [],
      ReportStarting: [],
      ReportReady: [],
      ReportUnhealthy: [],
      ReportExited: [],
      DrainInstance: [],
      ReportStopped: [],
      FailInstance: [],
      MarkLost: [],
      RequestMove: [],
    };
    for (const node of cluster.state.nodes.values()) {
      for (const instanceId of node.allocations.keys()) {
        const instance = cluster.state.instances.get(instanceId);
        if (instance === undefined) continue;
        // The reclaim fails at the deadline what is still there; a command for it carries the deadline too.
        const command = commandForInstanceOn(node, instance, node.status === NodeStatus.Reclaimed ? reclaimedAt(node, at) : at);
        if (command === undefined) continue;
        const result = await executeCommand({
          store,
          stream: instanceStream(instanceId),
          decider: instanceLifecycleDecider,
          command,
          source,
        });
        if (result.position === undefined) continue;
        await cluster.waitForPosition(result.position, waitMs);
        touched[command.type].push(instanceId);
        logger.warn(
          { nodeId: node.id, instanceId, status: node.status, recorded: result.events[0]?.type },
          "instance of a node out of service",
        );
      }
    }
    return {
      lostNodes,
      lostInstances: touched.MarkLost,
      reclaimedNodes,
      movedInstances: touched.RequestMove,
      failedInstances: touched.FailInstance,
    };
  };

  const check = (): Promise<LostNodeCheck> => {
    const next = (inFlight ?? Promise.resolve()).catch(() => undefined).then(runCheck);
    inFlight = next;
    return next;
  };

  const schedule = () => {
    if (stopped) return;
    timer = setTimeout(() => {
      void check()
        .catch((error: unknown) => logger.error({ err: error }, "lost-node check failed"))
        .finally(schedule);
    }, deps.intervalMs);
  };
  schedule();

  return {
    check,
    async stop() {
      stopped = true;
      if (timer !== undefined) clearTimeout(timer);
      await inFlight?.catch(() => undefined);
    },
  };
}

/** The reclaim's moment for the events of a Reclaimed node: its deadline when known, else `fallback`. */
function reclaimedAt(node: NodeState, fallback: string): string {
  return node.reclaimDeadline > 0 ? new Date(node.reclaimDeadline).toISOString() : fallback;
}

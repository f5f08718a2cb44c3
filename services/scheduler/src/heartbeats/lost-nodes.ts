import type { EventStore } from "@eas/event-store";
import { instanceStream, nodeStream } from "@eas/events";
import type { ProjectionRunner } from "@eas/projections";
import { InstanceCommandType, instanceLifecycleDecider } from "@eas/instance-lifecycle";
import { executeCommand } from "@eas/service-kit";
import type { Logger } from "@eas/telemetry";
import { NodeCommandType, NodeStatus, nodeDecider } from "../domain/index.js";
import { findLostNodes, type ClusterState } from "../projections/evolve-cluster.js";
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
  /** Instances failed by this check because their node is Lost. */
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

/** The reason InstanceFailed records for an instance on a lost node (the deployer replaces it). */
export function nodeLostReason(nodeId: string): string {
  return `node ${nodeId} lost`;
}

/**
 * Every `intervalMs`, marks nodes whose heartbeats stopped as Lost (NodeLost
 * on the node's stream) and fails every instance still allocated on a Lost node
 * (InstanceFailed on the instance's stream). The second step looks at every
 * Lost node, not only the ones just marked, so instances left over by a crash
 * between the two steps are failed after a restart.
 *
 * Nothing is decided before the projection has caught up with the log.
 */
export function startLostNodeMonitor(deps: LostNodeMonitorDeps): LostNodeMonitor {
  const { store, cluster, heartbeats, logger, source } = deps;
  const waitMs = deps.projectionWaitMs ?? 10_000;
  let inFlight: Promise<LostNodeCheck> | undefined;
  let timer: NodeJS.Timeout | undefined;
  let stopped = false;

  const runCheck = async (): Promise<LostNodeCheck> => {
    if (!cluster.isCaughtUp()) return { lostNodes: [], failedInstances: [] };
    const now = deps.now();
    const at = new Date(now).toISOString();
    const lostNodes: string[] = [];
    for (const nodeId of findLostNodes(heartbeats.overlay(cluster.state), now, deps.heartbeatTimeoutMs)) {
      const result = await executeCommand({
        store,
        stream: nodeStream(nodeId),
        decider: nodeDecider,
        command: { type: NodeCommandType.MarkNodeLost, nodeId, reason: missedHeartbeatsReason(deps.heartbeatTimeoutMs), now: at },
        source,
      });
      if (result.position === undefined) continue;
      await cluster.waitForPosition(result.position, waitMs);
      lostNodes.push(nodeId);
      logger.warn({ nodeId, timeoutMs: deps.heartbeatTimeoutMs }, "node lost: heartbeats stopped");
    }

    const failedInstances: string[] = [];
    for (const node of cluster.state.nodes.values()) {
      if (node.status !== NodeStatus.Lost) continue;
      for (const instanceId of node.allocations.keys()) {
        const result = await executeCommand({
          store,
          stream: instanceStream(instanceId),
          decider: instanceLifecycleDecider,
          // Nothing when the instance has ended meanwhile or is placed elsewhere.
          command: { type: InstanceCommandType.FailInstance, instanceId, reason: nodeLostReason(node.id), onlyOnNode: node.id, now: at },
          source,
        });
        if (result.position === undefined) continue;
        await cluster.waitForPosition(result.position, waitMs);
        failedInstances.push(instanceId);
        logger.warn({ nodeId: node.id, instanceId }, "instance failed: its node is lost");
      }
    }
    return { lostNodes, failedInstances };
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

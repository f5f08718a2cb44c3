import { InstanceCommandType, type ScheduleInstance } from "@eas/instance-lifecycle";
import { NodeStatus, poolOf, type NodeState } from "../domain/index.js";
import { placementOf, type ClusterState } from "../projections/evolve-cluster.js";
import { defaultFilters, runFilters } from "./filters.js";
import { defaultScorers } from "./scorers.js";
import type { PlacementDecision, PlacementPolicy, PlacementRequest } from "./types.js";

/** Default filters and scorers. */
export const defaultPlacementPolicy: PlacementPolicy = { filters: defaultFilters, scorers: defaultScorers };

/** The reason given when the cluster has no nodes at all. */
export const NO_NODES_REASON = "0/0 nodes available: no nodes registered";

/**
 * Chooses a node for one instance. Every node is filtered; the feasible ones
 * are ranked by the policy's scorers (by default: the service's dedicated
 * group before the public pool, which is reachable only when the service has
 * no group or is burstable; then spread, least allocated, price, node id).
 *
 * Idempotent for retries: an instance that already holds an allocation on a
 * node that is not Lost gets that node again.
 */
export function place(
  request: PlacementRequest,
  cluster: ClusterState,
  policy: PlacementPolicy = defaultPlacementPolicy,
): PlacementDecision {
  const current = cluster.nodes.get(placementOf(cluster, request.instanceId) ?? "");
  if (current !== undefined && current.status !== NodeStatus.Lost) return placedOn(current);

  const nodes = [...cluster.nodes.values()].sort((a, b) => compareIds(a.id, b.id));
  if (nodes.length === 0) return { placed: false, reason: NO_NODES_REASON, rejections: {} };

  const rejections: Record<string, string> = {};
  const feasible: NodeState[] = [];
  for (const node of nodes) {
    const verdict = runFilters(policy.filters, request, node);
    if (verdict.ok) feasible.push(node);
    else rejections[node.id] = verdict.reason;
  }
  if (feasible.length === 0) {
    return { placed: false, reason: summarizeRejections(nodes.length, rejections), rejections };
  }

  const ranked = feasible
    .map((node) => ({ node, scores: policy.scorers.map((scorer) => scorer.score(request, node, cluster)) }))
    .sort((a, b) => compareScores(a.scores, b.scores) || compareIds(a.node.id, b.node.id));
  // ranked is non-empty because feasible is.
  return placedOn(ranked[0]!.node);
}

function placedOn(node: NodeState): PlacementDecision {
  return { placed: true, nodeId: node.id, pool: poolOf(node), agentAddress: node.agentAddress, spot: node.spot };
}

/** Higher scores first, scorer by scorer. */
function compareScores(a: readonly number[], b: readonly number[]): number {
  for (let i = 0; i < a.length; i += 1) {
    const difference = (b[i] ?? 0) - (a[i] ?? 0);
    if (difference !== 0) return difference;
  }
  return 0;
}

function compareIds(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/**
 * Kubernetes-style summary of why no node fits:
 * `0/3 nodes: 2 insufficient memory, 1 other resource group`
 * (one count per distinct reason, most frequent first, then by name).
 */
export function summarizeRejections(totalNodes: number, rejections: Readonly<Record<string, string>>): string {
  if (totalNodes === 0) return NO_NODES_REASON;
  const counts = new Map<string, number>();
  for (const reason of Object.values(rejections)) counts.set(reason, (counts.get(reason) ?? 0) + 1);
  const parts = [...counts.entries()]
    .sort(([reasonA, countA], [reasonB, countB]) => countB - countA || compareIds(reasonA, reasonB))
    .map(([reason, count]) => `${count} ${reason}`);
  return `0/${totalNodes} nodes: ${parts.join(", ")}`;
}

/** The lifecycle command that records a successful placement (InstanceScheduled), at `now` (ISO 8601). */
export function scheduleInstance(
  request: PlacementRequest,
  decision: Extract<PlacementDecision, { placed: true }>,
  now: string,
): ScheduleInstance {
  return {
    type: InstanceCommandType.ScheduleInstance,
    instanceId: request.instanceId,
    service: request.service,
    version: request.version,
    nodeId: decision.nodeId,
    resources: { ...request.resources },
    pool: decision.pool,
    spot: decision.spot,
    now,
  };
}

import type { Allocation, NodeState } from "../domain/index.js";
import type { ClusterState } from "../projections/evolve-cluster.js";
import { defaultPlacementPolicy, place } from "./place.js";
import type { PlacementPolicy, PlacementRequest } from "./types.js";

/** A service's placement constraints (as for a placement) and the instances that may move. */
export interface RebalanceRequest extends Omit<PlacementRequest, "instanceId" | "version"> {
  /** Instances that may move (the deployer passes its Ready instances of the current version). */
  readonly candidates: readonly string[];
}

/** The outcome of {@link suggestRebalance}, with its reason either way. */
export type RebalanceSuggestion =
  | { readonly move: true; readonly instanceId: string; readonly fromNode: string; readonly toNode: string; readonly reason: string }
  | { readonly move: false; readonly reason: string };

/**
 * Whether one instance of a service should move so that its replicas spread, and where. Nodes that run two or
 * more of the service's instances are looked at, most crowded first; from each, the newest candidate is placed
 * again, as if it were not there, with the same policy as any placement. It moves when that lands it on another
 * node that would then still run fewer replicas than the node it leaves (so the spread strictly improves and
 * two nodes never trade a replica back and forth). The policy ranks the service's dedicated group before the
 * public pool, so a rebalance never pushes an instance out of its group.
 */
export function suggestRebalance(
  request: RebalanceRequest,
  cluster: ClusterState,
  policy: PlacementPolicy = defaultPlacementPolicy,
): RebalanceSuggestion {
  const replicas = new Map<string, Allocation[]>();
  for (const node of cluster.nodes.values()) {
    const own = [...node.allocations.values()].filter((allocation) => allocation.service === request.service);
    if (own.length > 0) replicas.set(node.id, own);
  }
  const total = [...replicas.values()].reduce((sum, own) => sum + own.length, 0);
  const candidates = new Set(request.candidates);
  const crowded = [...replicas.entries()]
    .filter(([, own]) => own.length >= 2 && own.some((allocation) => candidates.has(allocation.instanceId)))
    .sort(([a, ownA], [b, ownB]) => ownB.length - ownA.length || (a < b ? -1 : a > b ? 1 : 0));
  if (crowded.length === 0) return { move: false, reason: `no node runs two of the ${total} replicas of ${request.service} that may move` };

  for (const [fromNode, own] of crowded) {
    const victim = own
      .filter((allocation) => candidates.has(allocation.instanceId))
      .sort((a, b) => b.scheduledAt - a.scheduledAt || (a.instanceId < b.instanceId ? -1 : 1))[0]!;
    const decision = place({ ...request, instanceId: victim.instanceId, version: victim.version }, without(cluster, victim), policy);
    if (!decision.placed || decision.nodeId === fromNode) continue;
    const there = replicas.get(decision.nodeId)?.length ?? 0;
    if (there > own.length - 2) continue;
    return {
      move: true,
      instanceId: victim.instanceId,
      fromNode,
      toNode: decision.nodeId,
      reason: `node ${fromNode} runs ${own.length} of the ${total} replicas of ${request.service}; node ${decision.nodeId} runs ${there} and fits one`,
    };
  }
  return { move: false, reason: `no other node fits a replica of ${request.service} better than where it runs` };
}

/** The cluster as if `allocation` had been released. */
function without(cluster: ClusterState, allocation: Allocation): ClusterState {
  const nodes = new Map(cluster.nodes);
  for (const [id, node] of cluster.nodes) {
    if (!node.allocations.has(allocation.instanceId)) continue;
    const allocations = new Map(node.allocations);
    allocations.delete(allocation.instanceId);
    nodes.set(id, { ...node, allocations } satisfies NodeState);
  }
  const instances = new Map(cluster.instances);
  instances.delete(allocation.instanceId);
  return { nodes, instances };
}

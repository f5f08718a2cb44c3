import { NodeStatus } from "../domain/index.js";
import type { ClusterState } from "../projections/evolve-cluster.js";

/**
 * After a scheduler restart, the nodes the log knows as Ready that this process has not heard from yet
 * (neither a registration nor a heartbeat since it started), sorted. Placing while they are away would put
 * every replica on the first node to come back: placement waits for them, for a bounded grace.
 */
export function awaitedNodes(cluster: ClusterState, heardSinceStart: (nodeId: string) => boolean): string[] {
  return [...cluster.nodes.values()]
    .filter((node) => node.status === NodeStatus.Ready && !heardSinceStart(node.id))
    .map((node) => node.id)
    .sort();
}

/** Why a placement waits: stable words (the deployer records a changed reason as an event, so no countdown). */
export function fleetGraceReason(awaited: readonly string[], graceMs: number): string {
  const names = awaited.length > 3 ? `${awaited.slice(0, 3).join(", ")} and ${awaited.length - 3} more` : awaited.join(", ");
  return `waiting up to ${Math.round(graceMs / 100) / 10} s after a scheduler start for known node${awaited.length === 1 ? "" : "s"} ${names} to register again`;
}

import { NodeStatus, type NodeState } from "../domain/index.js";
import type { NodeFilter, PlacementPolicy } from "./types.js";

/** Why a node is passed over while its agent has not shown up at its registered address in this run. */
export const AGENT_NOT_CONNECTED = "agent not connected";

/**
 * Only nodes whose agent the scheduler has heard from at the registered address in this run (a registration,
 * a heartbeat naming the address). A cluster restarted over its log knows each node's address of the previous
 * run: placing there would send StartInstance to a port nobody listens on, until the agent registers again.
 * `isConnected` is the scheduler's memory of this run (the heartbeat tracker), not a fact of the log.
 */
export function agentConnectedFilter(isConnected: (node: NodeState) => boolean): NodeFilter {
  return {
    name: "AgentConnected",
    // A node that is not Ready says so through the NodeReady filter, whose reason tells more.
    filter: (_request, node) =>
      node.status !== NodeStatus.Ready || isConnected(node) ? { ok: true } : { ok: false, reason: AGENT_NOT_CONNECTED },
  };
}

/** `policy` with {@link agentConnectedFilter} first. */
export function withConnectedAgents(policy: PlacementPolicy, isConnected: (node: NodeState) => boolean): PlacementPolicy {
  return { ...policy, filters: [agentConnectedFilter(isConnected), ...policy.filters] };
}

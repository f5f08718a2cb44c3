export {
  RejectionReason,
  type FilterResult,
  type NodeFilter,
  type NodeScorer,
  type PlacementDecision,
  type PlacementPolicy,
  type PlacementRequest,
} from "./types.js";
export {
  cpuFilter,
  defaultFilters,
  gpuFilter,
  gpuMemoryFilter,
  gpuTypeFilter,
  instanceTypeChoiceOf,
  instanceTypeFilter,
  memoryFilter,
  nodeReadyFilter,
  resourceGroupFilter,
  runFilters,
  spotAllowedFilter,
  spotPriceFilter,
} from "./filters.js";
export {
  cheaperFirstScorer,
  dedicatedBeforePublicScorer,
  defaultScorers,
  instanceTypePriorityScorer,
  leastAllocatedScorer,
  spreadReplicasScorer,
} from "./scorers.js";
export { awaitedNodes, fleetGraceReason } from "./fleet-grace.js";
export { suggestRebalance, type RebalanceRequest, type RebalanceSuggestion } from "./rebalance.js";
export { NO_NODES_REASON, defaultPlacementPolicy, place, scheduleInstance, summarizeRejections } from "./place.js";
export { AGENT_NOT_CONNECTED, agentConnectedFilter, withConnectedAgents } from "./connected.js";

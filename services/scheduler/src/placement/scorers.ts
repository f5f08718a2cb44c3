import { PUBLIC_POOL, freeCapacity, gpuMemoryPerCard, isSharedGpu, type NodeState } from "../domain/index.js";
import { instanceTypeChoiceOf } from "./filters.js";
import type { NodeScorer, PlacementRequest } from "./types.js";

/**
 * The service's own resource group first, the public pool only as overflow
 * (the EAS elastic resource pool: scale-out fills the dedicated group first).
 */
export const dedicatedBeforePublicScorer: NodeScorer = {
  name: "DedicatedBeforePublic",
  score: (request, node) => (node.resourceGroup !== PUBLIC_POOL && node.resourceGroup === request.resourceGroup ? 1 : 0),
};

/** Fewest instances of the same service first, so that losing a node loses few replicas. */
export const spreadReplicasScorer: NodeScorer = {
  name: "SpreadReplicas",
  score: (request, node) => {
    let same = 0;
    for (const allocation of node.allocations.values()) {
      if (allocation.service === request.service && allocation.instanceId !== request.instanceId) same += 1;
    }
    return -same;
  },
};

/**
 * EAS's instance-type priority list: a node matching an earlier entry first (a spot bid listed before the
 * on-demand fallback puts spot nodes first). Ranked after spread: replicas on two nodes of the second type
 * survive a node loss that two on one node of the first type would not.
 */
export const instanceTypePriorityScorer: NodeScorer = {
  name: "InstanceTypePriority",
  score: (request, node) => (request.instanceTypes.length === 0 ? 0 : -instanceTypeChoiceOf(request.instanceTypes, node)),
};

/** Steps of the least-allocated score; nodes within one step tie and fall to the next scorer. */
const LOAD_STEPS = 10;

/**
 * Least allocated: the node with the most headroom on its busiest resource
 * after the instance lands, in 10 % steps.
 *
 * Why not best fit (bin packing): nodes here are agents of fixed capacity
 * whose cost runs whether they are busy or idle (a dedicated group is paid
 * for in full), so packing saves nothing, while co-located inference
 * processes contend for CPU, memory bandwidth and GPU and raise each other's
 * latency. Spreading load also leaves headroom for a restart and loses less
 * on a node failure. The coarse steps make nodes of similar load tie, so the
 * cheaper one wins ({@link cheaperFirstScorer}).
 */
export const leastAllocatedScorer: NodeScorer = {
  name: "LeastAllocated",
  score: (request, node) => Math.floor(LOAD_STEPS * headroomAfter(request, node)),
};

/** Lower hourly price first. */
export const cheaperFirstScorer: NodeScorer = {
  name: "CheaperFirst",
  score: (_request, node) => -node.pricePerHour,
};

/**
 * The default ranking: dedicated before public, then spread, then the instance-type priority list, then least
 * allocated, then price (node id breaks the remaining ties).
 */
export const defaultScorers: readonly NodeScorer[] = [
  dedicatedBeforePublicScorer,
  spreadReplicasScorer,
  instanceTypePriorityScorer,
  leastAllocatedScorer,
  cheaperFirstScorer,
];

/** Smallest free fraction over the node's resources once the request is placed (0..1). */
function headroomAfter(request: PlacementRequest, node: NodeState): number {
  const free = freeCapacity(node);
  const { capacity } = node;
  const { resources } = request;
  const fractions: number[] = [];
  const add = (freeAfter: number, total: number): void => {
    if (total > 0) fractions.push(Math.max(0, freeAfter) / total);
  };
  add(free.cpuMillis - resources.cpuMillis, capacity.cpuMillis);
  add(free.memoryMib - resources.memoryMib, capacity.memoryMib);
  if (isSharedGpu(resources)) {
    add(free.sharedGpuMemoryGib - resources.gpuMemoryGib, capacity.gpu * gpuMemoryPerCard(capacity));
  } else {
    add(free.gpu - resources.gpu, capacity.gpu);
  }
  return fractions.length === 0 ? 0 : Math.min(...fractions);
}

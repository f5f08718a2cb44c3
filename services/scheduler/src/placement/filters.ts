import { NodeStatus, PUBLIC_POOL, freeCapacity, gpuMemoryPerCard, isSharedGpu, needsGpu, type NodeState } from "../domain/index.js";
import type { InstanceTypeChoice } from "@eas/proto";
import { RejectionReason, type FilterResult, type NodeFilter, type PlacementRequest } from "./types.js";

const OK: FilterResult = { ok: true };
const fail = (reason: string): FilterResult => ({ ok: false, reason });

/** Only Ready nodes take new instances (not Cordoned, not Lost). */
export const nodeReadyFilter: NodeFilter = {
  name: "NodeReady",
  filter: (_request, node) => (node.status === NodeStatus.Ready ? OK : fail(RejectionReason.NodeNotReady)),
};

/**
 * A service with a group runs in that group, or in the public pool when it is
 * burstable; a service without a group runs in the public pool only. Whether
 * the group is tried before the public pool is the scorers' business
 * ({@link dedicatedBeforePublicScorer}).
 */
export const resourceGroupFilter: NodeFilter = {
  name: "ResourceGroup",
  filter: (request, node) => {
    if (node.resourceGroup === request.resourceGroup) return OK;
    if (request.resourceBurstable && node.resourceGroup === PUBLIC_POOL) return OK;
    return fail(RejectionReason.OtherResourceGroup);
  },
};

/** Spot nodes only for services that accept preemption. */
export const spotAllowedFilter: NodeFilter = {
  name: "SpotAllowed",
  filter: (request, node) => (node.spot && !request.spotAllowed ? fail(RejectionReason.SpotNotAllowed) : OK),
};

/** A spot node must not cost more than the service's ceiling (0 = no ceiling). */
export const spotPriceFilter: NodeFilter = {
  name: "SpotPrice",
  filter: (request, node) =>
    node.spot && request.maxSpotPrice > 0 && node.pricePerHour > request.maxSpotPrice ? fail(RejectionReason.SpotPriceAboveCeiling) : OK,
};

/**
 * The index of the first entry of an instance-type priority list that takes `node`, or -1: an entry names the
 * node's type (case-insensitive; an entry without a type names any), and is a spot bid covering the node's
 * price for a spot node, or an on-demand entry (no `spotPriceLimit`) for an on-demand node.
 */
export function instanceTypeChoiceOf(
  choices: readonly InstanceTypeChoice[],
  node: Pick<NodeState, "instanceType" | "spot" | "pricePerHour">,
): number {
  return choices.findIndex(
    (choice) =>
      typeMatches(choice, node) &&
      (node.spot ? choice.spotPriceLimit > 0 && node.pricePerHour <= choice.spotPriceLimit : choice.spotPriceLimit === 0),
  );
}

function typeMatches(choice: InstanceTypeChoice, node: Pick<NodeState, "instanceType">): boolean {
  return choice.type === "" || choice.type.toLowerCase() === node.instanceType.toLowerCase();
}

/**
 * With an instance-type priority list, a node must match one of its entries ({@link instanceTypeChoiceOf}). A spot
 * node of a listed type whose price is over every bid for it is "spot price above ceiling", any other
 * "instance type not listed".
 */
export const instanceTypeFilter: NodeFilter = {
  name: "InstanceType",
  filter: (request, node) => {
    const choices = request.instanceTypes;
    if (choices.length === 0 || instanceTypeChoiceOf(choices, node) >= 0) return OK;
    const outbid = node.spot && choices.some((choice) => choice.spotPriceLimit > 0 && typeMatches(choice, node));
    return fail(outbid ? RejectionReason.SpotPriceAboveCeiling : RejectionReason.InstanceTypeNotListed);
  },
};

/**
 * A GPU request naming a type needs cards of that type (case-insensitive).
 * A node without GPUs passes here and is turned down by {@link gpuFilter},
 * whose "insufficient gpu" says more about it.
 */
export const gpuTypeFilter: NodeFilter = {
  name: "GpuType",
  filter: (request, node) => {
    const wanted = request.resources.gpuType;
    if (!needsGpu(request.resources) || wanted === "" || node.capacity.gpu === 0) return OK;
    return node.capacity.gpuType.toLowerCase() === wanted.toLowerCase() ? OK : fail(RejectionReason.GpuTypeMismatch);
  },
};

/** Enough free whole cards, or for a shared slice, a node that has GPUs at all. */
export const gpuFilter: NodeFilter = {
  name: "Gpu",
  filter: (request, node) => {
    const { resources } = request;
    if (isSharedGpu(resources)) return node.capacity.gpu > 0 ? OK : fail(RejectionReason.InsufficientGpu);
    if (resources.gpu === 0) return OK;
    return freeCapacity(node).gpu >= resources.gpu ? OK : fail(RejectionReason.InsufficientGpu);
  },
};

/**
 * Whole cards must each have at least `gpuMemoryGib`; a shared slice must fit
 * on one card and in the GPU memory not yet taken.
 */
export const gpuMemoryFilter: NodeFilter = {
  name: "GpuMemory",
  filter: (request, node) => {
    const wanted = request.resources.gpuMemoryGib;
    if (wanted === 0) return OK;
    if (gpuMemoryPerCard(node.capacity) < wanted) return fail(RejectionReason.InsufficientGpuMemory);
    if (isSharedGpu(request.resources) && freeCapacity(node).sharedGpuMemoryGib < wanted) {
      return fail(RejectionReason.InsufficientGpuMemory);
    }
    return OK;
  },
};

export const cpuFilter: NodeFilter = {
  name: "Cpu",
  filter: (request, node) => (freeCapacity(node).cpuMillis >= request.resources.cpuMillis ? OK : fail(RejectionReason.InsufficientCpu)),
};

export const memoryFilter: NodeFilter = {
  name: "Memory",
  filter: (request, node) => (freeCapacity(node).memoryMib >= request.resources.memoryMib ? OK : fail(RejectionReason.InsufficientMemory)),
};

/**
 * The default filters, in the order their reasons are reported: why a node can
 * never take the instance (status, group, spot, instance type, GPU type) before what is
 * merely full right now (GPU, CPU, memory).
 */
export const defaultFilters: readonly NodeFilter[] = [
  nodeReadyFilter,
  resourceGroupFilter,
  spotAllowedFilter,
  spotPriceFilter,
  instanceTypeFilter,
  gpuTypeFilter,
  gpuFilter,
  gpuMemoryFilter,
  cpuFilter,
  memoryFilter,
];

/** Runs filters in order; the first failure is the node's verdict. */
export function runFilters(filters: readonly NodeFilter[], request: PlacementRequest, node: NodeState): FilterResult {
  for (const filter of filters) {
    const result = filter.filter(request, node);
    if (!result.ok) return result;
  }
  return OK;
}

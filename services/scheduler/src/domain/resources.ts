import type { Resources } from "@eas/proto";
import type { NodeState } from "./node.js";

/*
 * GPU model. A request either takes whole cards (`gpu > 0`; a non-zero
 * `gpuMemoryGib` is then the least memory each card must have) or a shared
 * slice of one card (`gpu == 0 && gpuMemoryGib > 0`). A node's
 * `capacity.gpuMemoryGib` is the total over its cards, all of the same type,
 * so a card holds `gpuMemoryGib / gpu`. The scheduler does not track which
 * card a slice lands on (the agent assigns devices); it counts the cards that
 * shared slices need, rounded up, as no longer free for whole-card requests.
 */

/** All-zero resources, any GPU type. */
export function zeroResources(): Resources {
  return { cpuMillis: 0, memoryMib: 0, gpu: 0, gpuType: "", gpuMemoryGib: 0 };
}

/** True when the request is a slice of one shared GPU rather than whole cards. */
export function isSharedGpu(request: Resources): boolean {
  return request.gpu === 0 && request.gpuMemoryGib > 0;
}

/** True when the request needs a GPU at all (whole cards or a shared slice). */
export function needsGpu(request: Resources): boolean {
  return request.gpu > 0 || request.gpuMemoryGib > 0;
}

/** GPU memory of one card of the node, 0 when the node does not declare it. */
export function gpuMemoryPerCard(capacity: Resources): number {
  return capacity.gpu > 0 ? capacity.gpuMemoryGib / capacity.gpu : 0;
}

/** What a node's allocations hold in total. */
export interface NodeUsage {
  readonly cpuMillis: number;
  readonly memoryMib: number;
  /** Cards held whole. */
  readonly wholeGpus: number;
  /** GPU memory held by shared slices. */
  readonly sharedGpuMemoryGib: number;
  /** Cards occupied: whole ones plus those that shared slices need (rounded up). */
  readonly gpusInUse: number;
  readonly instanceCount: number;
}

/** Sums a node's allocations. */
export function nodeUsage(node: Pick<NodeState, "capacity" | "allocations">): NodeUsage {
  let cpuMillis = 0;
  let memoryMib = 0;
  let wholeGpus = 0;
  let sharedGpuMemoryGib = 0;
  for (const { resources } of node.allocations.values()) {
    cpuMillis += resources.cpuMillis;
    memoryMib += resources.memoryMib;
    if (isSharedGpu(resources)) sharedGpuMemoryGib += resources.gpuMemoryGib;
    else wholeGpus += resources.gpu;
  }
  const perCard = gpuMemoryPerCard(node.capacity);
  const sharedCards = perCard > 0 ? Math.ceil(sharedGpuMemoryGib / perCard) : 0;
  return {
    cpuMillis,
    memoryMib,
    wholeGpus,
    sharedGpuMemoryGib,
    gpusInUse: wholeGpus + sharedCards,
    instanceCount: node.allocations.size,
  };
}

/** What is still free on a node. */
export interface FreeCapacity {
  readonly cpuMillis: number;
  readonly memoryMib: number;
  /** Cards free for whole-card requests. */
  readonly gpu: number;
  /** GPU memory free for shared slices (on cards not held whole). */
  readonly sharedGpuMemoryGib: number;
}

/** Capacity minus usage, never below zero. */
export function freeCapacity(node: Pick<NodeState, "capacity" | "allocations">): FreeCapacity {
  const used = nodeUsage(node);
  const { capacity } = node;
  const perCard = gpuMemoryPerCard(capacity);
  return {
    cpuMillis: Math.max(0, capacity.cpuMillis - used.cpuMillis),
    memoryMib: Math.max(0, capacity.memoryMib - used.memoryMib),
    gpu: Math.max(0, capacity.gpu - used.gpusInUse),
    sharedGpuMemoryGib: Math.max(0, (capacity.gpu - used.wholeGpus) * perCard - used.sharedGpuMemoryGib),
  };
}

/** The node's allocated resources in the shape of {@link Resources} (for NodeInfo.allocated). */
export function allocatedResources(node: Pick<NodeState, "capacity" | "allocations">): Resources {
  const used = nodeUsage(node);
  return {
    cpuMillis: used.cpuMillis,
    memoryMib: used.memoryMib,
    gpu: used.gpusInUse,
    gpuType: node.capacity.gpuType,
    gpuMemoryGib: used.wholeGpus * gpuMemoryPerCard(node.capacity) + used.sharedGpuMemoryGib,
  };
}

/** Field-by-field equality. */
export function sameResources(a: Resources, b: Resources): boolean {
  return (
    a.cpuMillis === b.cpuMillis &&
    a.memoryMib === b.memoryMib &&
    a.gpu === b.gpu &&
    a.gpuType === b.gpuType &&
    a.gpuMemoryGib === b.gpuMemoryGib
  );
}

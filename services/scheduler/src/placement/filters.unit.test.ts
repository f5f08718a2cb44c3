import assert from "node:assert/strict";
import { describe, it } from "node:test";
import type { NodeState } from "../domain/index.js";
import type { ClusterEvent } from "../projections/evolve-cluster.js";
import { T0, clusterFrom, iso, registered, request, scheduled, type NodeSpec } from "../testing/fixtures.js";
import {
  cpuFilter,
  gpuFilter,
  gpuMemoryFilter,
  gpuTypeFilter,
  instanceTypeFilter,
  memoryFilter,
  nodeReadyFilter,
  resourceGroupFilter,
  spotAllowedFilter,
  spotPriceFilter,
} from "./filters.js";
import { RejectionReason, type NodeFilter, type PlacementRequest } from "./types.js";

function nodeOf(spec: NodeSpec, ...more: ClusterEvent[]): NodeState {
  const found = clusterFrom([registered(spec), ...more]).nodes.get(spec.id);
  assert.ok(found);
  return found;
}

interface Row {
  readonly name: string;
  readonly request: PlacementRequest;
  readonly node: NodeState;
  /** undefined: passes; otherwise the expected reason. */
  readonly rejects?: string;
}

function table(filter: NodeFilter, rows: readonly Row[]): void {
  describe(`filter ${filter.name}`, () => {
    for (const row of rows) {
      it(`${row.rejects === undefined ? "passes" : "rejects"}: ${row.name}`, () => {
        const result = filter.filter(row.request, row.node);
        assert.deepEqual(result, row.rejects === undefined ? { ok: true } : { ok: false, reason: row.rejects });
      });
    }
  });
}

const cordon: ClusterEvent = { type: "eas.v1.NodeCordoned", data: { nodeId: "n", reason: "drain", at: iso(T0 + 1) } };
const lose: ClusterEvent = { type: "eas.v1.NodeLost", data: { nodeId: "n", reason: "timeout", at: iso(T0 + 1) } };

table(nodeReadyFilter, [
  { name: "ready node", request: request(), node: nodeOf({ id: "n" }) },
  { name: "cordoned node", request: request(), node: nodeOf({ id: "n" }, cordon), rejects: RejectionReason.NodeNotReady },
  { name: "lost node", request: request(), node: nodeOf({ id: "n" }, lose), rejects: RejectionReason.NodeNotReady },
]);

table(resourceGroupFilter, [
  { name: "public request, public node", request: request(), node: nodeOf({ id: "n" }) },
  {
    name: "public request, dedicated node",
    request: request(),
    node: nodeOf({ id: "n", group: "g" }),
    rejects: RejectionReason.OtherResourceGroup,
  },
  { name: "group request, same group", request: request({ resourceGroup: "g" }), node: nodeOf({ id: "n", group: "g" }) },
  {
    name: "group request, other group",
    request: request({ resourceGroup: "g" }),
    node: nodeOf({ id: "n", group: "h" }),
    rejects: RejectionReason.OtherResourceGroup,
  },
  {
    name: "group request, public node, not burstable",
    request: request({ resourceGroup: "g" }),
    node: nodeOf({ id: "n" }),
    rejects: RejectionReason.OtherResourceGroup,
  },
  {
    name: "group request, public node, burstable",
    request: request({ resourceGroup: "g", resourceBurstable: true }),
    node: nodeOf({ id: "n" }),
  },
  {
    name: "burstable never reaches another group",
    request: request({ resourceGroup: "g", resourceBurstable: true }),
    node: nodeOf({ id: "n", group: "h" }),
    rejects: RejectionReason.OtherResourceGroup,
  },
]);

table(spotAllowedFilter, [
  { name: "on-demand node", request: request(), node: nodeOf({ id: "n" }) },
  { name: "spot node, spot allowed", request: request({ spotAllowed: true }), node: nodeOf({ id: "n", spot: true }) },
  {
    name: "spot node, spot not allowed",
    request: request(),
    node: nodeOf({ id: "n", spot: true }),
    rejects: RejectionReason.SpotNotAllowed,
  },
]);

table(spotPriceFilter, [
  { name: "no ceiling", request: request({ spotAllowed: true }), node: nodeOf({ id: "n", spot: true, price: 9 }) },
  {
    name: "under the ceiling",
    request: request({ spotAllowed: true, maxSpotPrice: 0.5 }),
    node: nodeOf({ id: "n", spot: true, price: 0.4 }),
  },
  { name: "at the ceiling", request: request({ spotAllowed: true, maxSpotPrice: 0.5 }), node: nodeOf({ id: "n", spot: true, price: 0.5 }) },
  {
    name: "above the ceiling",
    request: request({ spotAllowed: true, maxSpotPrice: 0.5 }),
    node: nodeOf({ id: "n", spot: true, price: 0.6 }),
    rejects: RejectionReason.SpotPriceAboveCeiling,
  },
  {
    name: "ceiling does not apply to on-demand nodes",
    request: request({ spotAllowed: true, maxSpotPrice: 0.5 }),
    node: nodeOf({ id: "n", price: 3 }),
  },
]);

const spotBid = { type: "ecs.g7.large", spotPriceLimit: 0.5 };
const onDemand = { type: "ecs.c7.large", spotPriceLimit: 0 };

table(instanceTypeFilter, [
  { name: "no list: any node", request: request(), node: nodeOf({ id: "n", instanceType: "ecs.x" }) },
  {
    name: "on-demand node of an on-demand entry",
    request: request({ instanceTypes: [spotBid, onDemand] }),
    node: nodeOf({ id: "n", instanceType: "ECS.C7.LARGE" }),
  },
  {
    name: "spot node of a bid, under its limit",
    request: request({ spotAllowed: true, instanceTypes: [spotBid, onDemand] }),
    node: nodeOf({ id: "n", spot: true, price: 0.4, instanceType: "ecs.g7.large" }),
  },
  {
    name: "spot node of a bid, over its limit",
    request: request({ spotAllowed: true, instanceTypes: [spotBid, onDemand] }),
    node: nodeOf({ id: "n", spot: true, price: 0.6, instanceType: "ecs.g7.large" }),
    rejects: RejectionReason.SpotPriceAboveCeiling,
  },
  {
    name: "on-demand node of a type listed only as a spot bid",
    request: request({ spotAllowed: true, instanceTypes: [spotBid] }),
    node: nodeOf({ id: "n", instanceType: "ecs.g7.large" }),
    rejects: RejectionReason.InstanceTypeNotListed,
  },
  {
    name: "spot node of a type listed only on demand",
    request: request({ spotAllowed: true, instanceTypes: [onDemand] }),
    node: nodeOf({ id: "n", spot: true, price: 0.1, instanceType: "ecs.c7.large" }),
    rejects: RejectionReason.InstanceTypeNotListed,
  },
  {
    name: "a node without a type",
    request: request({ instanceTypes: [onDemand] }),
    node: nodeOf({ id: "n" }),
    rejects: RejectionReason.InstanceTypeNotListed,
  },
  {
    name: "an entry without a type takes any type",
    request: request({ instanceTypes: [{ type: "", spotPriceLimit: 0 }] }),
    node: nodeOf({ id: "n", instanceType: "whatever" }),
  },
]);

const a10 = { id: "n", gpu: 2, gpuType: "A10", gpuMemoryGib: 48 };

table(gpuTypeFilter, [
  { name: "no gpu requested", request: request({ gpuType: "T4" }), node: nodeOf(a10) },
  { name: "any gpu type", request: request({ gpu: 1 }), node: nodeOf(a10) },
  { name: "same type", request: request({ gpu: 1, gpuType: "A10" }), node: nodeOf(a10) },
  { name: "same type, other case", request: request({ gpu: 1, gpuType: "a10" }), node: nodeOf(a10) },
  { name: "shared slice of the same type", request: request({ gpuMemoryGib: 4, gpuType: "A10" }), node: nodeOf(a10) },
  { name: "other type", request: request({ gpu: 1, gpuType: "T4" }), node: nodeOf(a10), rejects: RejectionReason.GpuTypeMismatch },
  { name: "node without gpus is left to the gpu filter", request: request({ gpu: 1, gpuType: "T4" }), node: nodeOf({ id: "n" }) },
]);

table(gpuFilter, [
  { name: "no gpu requested, cpu node", request: request(), node: nodeOf({ id: "n" }) },
  { name: "2 of 2 free cards", request: request({ gpu: 2 }), node: nodeOf(a10) },
  { name: "3 of 2 cards", request: request({ gpu: 3 }), node: nodeOf(a10), rejects: RejectionReason.InsufficientGpu },
  {
    name: "1 card, 1 held whole",
    request: request({ gpu: 2 }),
    node: nodeOf(a10, scheduled("i1", "x", "n", { gpu: 1 })),
    rejects: RejectionReason.InsufficientGpu,
  },
  {
    name: "whole card, other card partly shared",
    request: request({ gpu: 1 }),
    node: nodeOf(a10, scheduled("i1", "x", "n", { gpuMemoryGib: 4 })),
  },
  {
    name: "2 cards, one partly shared",
    request: request({ gpu: 2 }),
    node: nodeOf(a10, scheduled("i1", "x", "n", { gpuMemoryGib: 4 })),
    rejects: RejectionReason.InsufficientGpu,
  },
  { name: "gpu on a cpu node", request: request({ gpu: 1 }), node: nodeOf({ id: "n" }), rejects: RejectionReason.InsufficientGpu },
  {
    name: "shared slice on a cpu node",
    request: request({ gpuMemoryGib: 4 }),
    node: nodeOf({ id: "n" }),
    rejects: RejectionReason.InsufficientGpu,
  },
]);

table(gpuMemoryFilter, [
  { name: "no gpu memory requested", request: request({ gpu: 1 }), node: nodeOf(a10) },
  { name: "whole card with at least 24 GiB", request: request({ gpu: 1, gpuMemoryGib: 24 }), node: nodeOf(a10) },
  {
    name: "whole card with at least 32 GiB",
    request: request({ gpu: 1, gpuMemoryGib: 32 }),
    node: nodeOf(a10),
    rejects: RejectionReason.InsufficientGpuMemory,
  },
  {
    name: "slice fits",
    request: request({ gpuMemoryGib: 20 }),
    node: nodeOf(a10, scheduled("i1", "x", "n", { gpuMemoryGib: 20 }), scheduled("i2", "x", "n", { gpuMemoryGib: 4 })),
  },
  {
    name: "slice larger than one card",
    request: request({ gpuMemoryGib: 30 }),
    node: nodeOf(a10),
    rejects: RejectionReason.InsufficientGpuMemory,
  },
  {
    name: "slices used up",
    request: request({ gpuMemoryGib: 8 }),
    node: nodeOf(a10, scheduled("i1", "x", "n", { gpu: 1 }), scheduled("i2", "x", "n", { gpuMemoryGib: 20 })),
    rejects: RejectionReason.InsufficientGpuMemory,
  },
  {
    name: "node without declared gpu memory",
    request: request({ gpuMemoryGib: 4 }),
    node: nodeOf({ id: "n", gpu: 1 }),
    rejects: RejectionReason.InsufficientGpuMemory,
  },
]);

table(cpuFilter, [
  { name: "fits exactly", request: request({ cpu: 4000 }), node: nodeOf({ id: "n", cpu: 4000 }) },
  { name: "too much", request: request({ cpu: 4001 }), node: nodeOf({ id: "n", cpu: 4000 }), rejects: RejectionReason.InsufficientCpu },
  {
    name: "fits what is left",
    request: request({ cpu: 1000 }),
    node: nodeOf({ id: "n", cpu: 4000 }, scheduled("i1", "x", "n", { cpuMillis: 3000 })),
  },
  {
    name: "more than what is left",
    request: request({ cpu: 1001 }),
    node: nodeOf({ id: "n", cpu: 4000 }, scheduled("i1", "x", "n", { cpuMillis: 3000 })),
    rejects: RejectionReason.InsufficientCpu,
  },
]);

table(memoryFilter, [
  { name: "fits exactly", request: request({ memory: 8192 }), node: nodeOf({ id: "n", memory: 8192 }) },
  {
    name: "too much",
    request: request({ memory: 8193 }),
    node: nodeOf({ id: "n", memory: 8192 }),
    rejects: RejectionReason.InsufficientMemory,
  },
  {
    name: "more than what is left",
    request: request({ memory: 4097 }),
    node: nodeOf({ id: "n", memory: 8192 }, scheduled("i1", "x", "n", { memoryMib: 4096 })),
    rejects: RejectionReason.InsufficientMemory,
  },
]);

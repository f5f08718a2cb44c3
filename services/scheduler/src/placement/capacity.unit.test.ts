import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { mulberry32 as prng } from "@eas/testing";
import { NodeStatus, PUBLIC_POOL, gpuMemoryPerCard, isSharedGpu, type NodeState } from "../domain/index.js";
import { emptyCluster, evolveCluster, type ClusterEvent, type ClusterState } from "../projections/evolve-cluster.js";
import { T0, instanceScheduled, iso, registered, resources } from "../testing/fixtures.js";
import { place } from "./place.js";
import type { PlacementRequest } from "./types.js";

const SEEDS = [1, 2, 3, 42, 1337, 2026, 65535, 987654321];
const STEPS = 300;

function pick<T>(random: () => number, items: readonly T[]): T {
  const item = items[Math.floor(random() * items.length)];
  assert.ok(item !== undefined);
  return item;
}

function randomCluster(random: () => number): ClusterState {
  let cluster = emptyCluster();
  const count = 1 + Math.floor(random() * 6);
  for (let i = 0; i < count; i += 1) {
    const gpu = pick(random, [0, 0, 1, 2, 4]);
    cluster = evolveCluster(
      cluster,
      registered({
        id: `n${i}`,
        cpu: pick(random, [1000, 2000, 4000, 8000]),
        memory: pick(random, [1024, 4096, 8192]),
        gpu,
        gpuType: gpu > 0 ? pick(random, ["T4", "A10"]) : "",
        gpuMemoryGib: gpu > 0 ? gpu * pick(random, [16, 24]) : 0,
        group: pick(random, ["", "", "team"]),
        spot: random() < 0.3,
        price: pick(random, [0.2, 0.5, 1, 2]),
      }),
    );
    if (random() < 0.15) {
      cluster = evolveCluster(cluster, { type: "eas.v1.NodeCordoned", data: { nodeId: `n${i}`, reason: "r", at: iso(T0) } });
    }
  }
  return cluster;
}

function randomRequest(random: () => number, step: number): PlacementRequest {
  const gpuKind = pick(random, ["none", "none", "whole", "shared"]);
  return {
    instanceId: `i${step}`,
    service: pick(random, ["a", "b", "c"]),
    version: 1,
    resources: resources({
      cpuMillis: pick(random, [100, 250, 500, 1000, 2000]),
      memoryMib: pick(random, [128, 512, 1024, 2048]),
      gpu: gpuKind === "whole" ? pick(random, [1, 2]) : 0,
      gpuType: gpuKind === "none" ? "" : pick(random, ["", "T4", "A10"]),
      gpuMemoryGib: gpuKind === "shared" ? pick(random, [4, 8, 16]) : 0,
    }),
    resourceGroup: pick(random, ["", "team"]),
    resourceBurstable: random() < 0.5,
    spotAllowed: random() < 0.5,
    maxSpotPrice: pick(random, [0, 0.3, 1]),
    instanceTypes: [],
  };
}

/** Checks capacity directly from the allocations, independently of the filters' arithmetic. */
function assertWithinCapacity(node: NodeState, context: string): void {
  let cpu = 0;
  let memory = 0;
  let wholeCards = 0;
  let shared = 0;
  for (const { resources: used } of node.allocations.values()) {
    cpu += used.cpuMillis;
    memory += used.memoryMib;
    if (isSharedGpu(used)) shared += used.gpuMemoryGib;
    else wholeCards += used.gpu;
  }
  const perCard = gpuMemoryPerCard(node.capacity);
  assert.ok(cpu <= node.capacity.cpuMillis, `${context}: cpu ${cpu} > ${node.capacity.cpuMillis} on ${node.id}`);
  assert.ok(memory <= node.capacity.memoryMib, `${context}: memory ${memory} > ${node.capacity.memoryMib} on ${node.id}`);
  assert.ok(wholeCards <= node.capacity.gpu, `${context}: gpus ${wholeCards} > ${node.capacity.gpu} on ${node.id}`);
  assert.ok(shared <= (node.capacity.gpu - wholeCards) * perCard, `${context}: shared gpu memory ${shared} over free cards on ${node.id}`);
}

function assertRulesHold(request: PlacementRequest, node: NodeState, context: string): void {
  assert.equal(node.status, NodeStatus.Ready, `${context}: placed on a ${node.status} node`);
  const groupOk = node.resourceGroup === request.resourceGroup || (request.resourceBurstable && node.resourceGroup === PUBLIC_POOL);
  assert.ok(groupOk, `${context}: group ${request.resourceGroup} placed on ${node.resourceGroup || "public"}`);
  if (node.spot) {
    assert.ok(request.spotAllowed, `${context}: spot node without spot allowed`);
    assert.ok(request.maxSpotPrice === 0 || node.pricePerHour <= request.maxSpotPrice, `${context}: above spot ceiling`);
  }
  const wanted = request.resources.gpuType;
  if (wanted !== "" && (request.resources.gpu > 0 || request.resources.gpuMemoryGib > 0)) {
    assert.equal(node.capacity.gpuType.toLowerCase(), wanted.toLowerCase(), `${context}: gpu type`);
  }
}

describe("placing a random sequence of requests (seeded)", () => {
  for (const seed of SEEDS) {
    it(`never over-commits a node and honours every rule, seed ${seed}`, () => {
      const random = prng(seed);
      let cluster = randomCluster(random);
      let placed = 0;
      let refused = 0;
      for (let step = 0; step < STEPS; step += 1) {
        const context = `seed ${seed} step ${step}`;
        if (random() < 0.25 && cluster.instances.size > 0) {
          const victim = pick(random, [...cluster.instances.keys()]);
          const event: ClusterEvent =
            random() < 0.5
              ? { type: "eas.v1.InstanceFailed", data: { instanceId: victim, service: "", reason: "r", at: iso(T0 + step) } }
              : {
                  type: "eas.v1.InstanceStopped",
                  data: { instanceId: victim, service: "", nodeId: "", reason: "r", at: iso(T0 + step) },
                };
          cluster = evolveCluster(cluster, event);
          assert.equal(cluster.instances.has(victim), false, `${context}: ${victim} still placed`);
          continue;
        }
        const request = randomRequest(random, step);
        const decision = place(request, cluster);
        if (decision.placed) {
          placed += 1;
          const node = cluster.nodes.get(decision.nodeId);
          assert.ok(node, `${context}: unknown node ${decision.nodeId}`);
          assertRulesHold(request, node, context);
          cluster = evolveCluster(cluster, instanceScheduled(request, decision, T0 + step));
        } else {
          refused += 1;
          assert.equal(Object.keys(decision.rejections).length, cluster.nodes.size, `${context}: every node has a reason`);
          const [, summary = ""] = decision.reason.split(" nodes: ");
          const counted = summary.split(", ").reduce((sum, part) => sum + Number.parseInt(part, 10), 0);
          assert.equal(counted, cluster.nodes.size, `${context}: counts in "${decision.reason}" add up`);
        }
        for (const node of cluster.nodes.values()) assertWithinCapacity(node, context);
        const allocated = [...cluster.nodes.values()].reduce((sum, node) => sum + node.allocations.size, 0);
        assert.equal(allocated, cluster.instances.size, `${context}: placements index matches allocations`);
      }
      assert.ok(placed > 0, `seed ${seed} placed nothing: the generator is too strict`);
      assert.ok(refused > 0, `seed ${seed} never filled the cluster: the generator is too loose`);
    });
  }
});

import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { emptyCluster, evolveCluster, type ClusterEvent, type ClusterState } from "../projections/evolve-cluster.js";
import { T0, clusterFrom, instanceScheduled, iso, registered, request, scheduled, type RequestSpec } from "../testing/fixtures.js";
import { NO_NODES_REASON, place, summarizeRejections } from "./place.js";
import type { PlacementDecision } from "./types.js";

function placedNode(decision: PlacementDecision): string {
  assert.ok(decision.placed, `expected a placement, got ${decision.placed ? "" : decision.reason}`);
  return decision.nodeId;
}

/** Places requests one after another, recording each placement as the scheduler would. */
function placeAll(cluster: ClusterState, specs: RequestSpec[]): { cluster: ClusterState; nodes: string[] } {
  const nodes: string[] = [];
  let current = cluster;
  specs.forEach((spec, index) => {
    const next = request(spec);
    const decision = place(next, current);
    assert.ok(decision.placed, `request ${index} not placed: ${decision.placed ? "" : decision.reason}`);
    nodes.push(decision.nodeId);
    current = evolveCluster(current, instanceScheduled(next, decision, T0 + index));
  });
  return { cluster: current, nodes };
}

const lostEvent = (nodeId: string): ClusterEvent => ({
  type: "eas.v1.NodeLost",
  data: { nodeId, reason: "timeout", at: iso(T0 + 1) },
});
const cordonEvent = (nodeId: string): ClusterEvent => ({
  type: "eas.v1.NodeCordoned",
  data: { nodeId, reason: "drain", at: iso(T0 + 1) },
});

describe("place", () => {
  it("given no nodes, when placing, then it says no nodes are registered", () => {
    const decision = place(request({ cpu: 100 }), emptyCluster());
    assert.deepEqual(decision, { placed: false, reason: NO_NODES_REASON, rejections: {} });
    assert.equal(NO_NODES_REASON, "0/0 nodes available: no nodes registered");
  });

  it("given 3 equal nodes, when placing 3 replicas, then each lands on a different node", () => {
    const cluster = clusterFrom([registered({ id: "a" }), registered({ id: "b" }), registered({ id: "c" })]);
    const { nodes } = placeAll(cluster, [
      { instanceId: "r1", cpu: 500, memory: 512 },
      { instanceId: "r2", cpu: 500, memory: 512 },
      { instanceId: "r3", cpu: 500, memory: 512 },
    ]);
    assert.deepEqual([...nodes].sort(), ["a", "b", "c"]);
  });

  it("given a node already holding a replica but emptier, when placing, then spread wins over load", () => {
    const cluster = clusterFrom([
      registered({ id: "a" }),
      registered({ id: "b" }),
      scheduled("r1", "svc", "a", { cpuMillis: 100 }),
      scheduled("other", "big", "b", { cpuMillis: 3000 }),
    ]);
    assert.equal(placedNode(place(request({ instanceId: "r2", cpu: 100 }), cluster)), "b");
  });

  it("given 3 nodes and only one with enough memory, when placing, then it lands there", () => {
    const cluster = clusterFrom([
      registered({ id: "a", memory: 2048 }),
      registered({ id: "b", memory: 16384 }),
      registered({ id: "c", memory: 4096 }),
    ]);
    assert.equal(placedNode(place(request({ memory: 8192 }), cluster)), "b");
  });

  it("given a loaded cheap node and an empty dear one, then the less allocated one wins", () => {
    const cluster = clusterFrom([
      registered({ id: "cheap", price: 1 }),
      registered({ id: "dear", price: 2 }),
      scheduled("x", "other", "cheap", { cpuMillis: 2400 }),
    ]);
    assert.equal(placedNode(place(request({ cpu: 1000, memory: 1024 }), cluster)), "dear");
  });

  it("given two nodes of similar load, then the cheaper wins", () => {
    const cluster = clusterFrom([
      registered({ id: "a-dear", price: 2 }),
      registered({ id: "b-cheap", price: 1 }),
      scheduled("x", "other", "b-cheap", { cpuMillis: 200 }),
    ]);
    assert.equal(placedNode(place(request({ cpu: 1000, memory: 1024 }), cluster)), "b-cheap");
  });

  it("given identical nodes, then the node id decides (deterministic)", () => {
    const cluster = clusterFrom([registered({ id: "n2" }), registered({ id: "n1" })]);
    assert.equal(placedNode(place(request({ cpu: 100 }), cluster)), "n1");
  });

  describe("resource groups", () => {
    const base = [
      registered({ id: "g1", group: "team", cpu: 2000, price: 5 }),
      registered({ id: "p1", cpu: 16000, price: 1 }),
      registered({ id: "h1", group: "other", cpu: 16000 }),
    ];

    it("given room in the group, then the dedicated node wins over a cheaper, emptier public one", () => {
      const decision = place(request({ cpu: 1000, resourceGroup: "team", resourceBurstable: true }), clusterFrom(base));
      assert.deepEqual(decision, { placed: true, nodeId: "g1", pool: "dedicated", agentAddress: "127.0.0.1:7002", spot: false });
    });

    it("given a full group and a burstable service, then it overflows to the public pool", () => {
      const cluster = clusterFrom([...base, scheduled("x", "svc", "g1", { cpuMillis: 1500 }, { pool: "dedicated" })]);
      const decision = place(request({ cpu: 1000, resourceGroup: "team", resourceBurstable: true }), cluster);
      assert.ok(decision.placed);
      assert.equal(decision.nodeId, "p1");
      assert.equal(decision.pool, "public");
    });

    it("given a full group and a service that is not burstable, then it is not placed and says why", () => {
      const cluster = clusterFrom([...base, scheduled("x", "svc", "g1", { cpuMillis: 1500 }, { pool: "dedicated" })]);
      const decision = place(request({ cpu: 1000, resourceGroup: "team" }), cluster);
      assert.deepEqual(decision, {
        placed: false,
        reason: "0/3 nodes: 2 other resource group, 1 insufficient cpu",
        rejections: { g1: "insufficient cpu", h1: "other resource group", p1: "other resource group" },
      });
    });

    it("given a service without a group, then dedicated groups are never used", () => {
      const cluster = clusterFrom([registered({ id: "g1", group: "team" }), registered({ id: "p1", cpu: 100 })]);
      const decision = place(request({ cpu: 1000 }), cluster);
      assert.ok(!decision.placed);
      assert.equal(decision.reason, "0/2 nodes: 1 insufficient cpu, 1 other resource group");
    });
  });

  it("given 2 nodes short of memory and one of another group, then the reason reads like Kubernetes'", () => {
    const cluster = clusterFrom([
      registered({ id: "a", memory: 1024 }),
      registered({ id: "b", memory: 2048 }),
      registered({ id: "c", group: "team", memory: 65536 }),
    ]);
    const decision = place(request({ memory: 4096 }), cluster);
    assert.ok(!decision.placed);
    assert.equal(decision.reason, "0/3 nodes: 2 insufficient memory, 1 other resource group");
  });

  it("given GPU nodes of two types, then the requested type is chosen", () => {
    const cluster = clusterFrom([
      registered({ id: "t4", gpu: 4, gpuType: "T4", gpuMemoryGib: 64, price: 1 }),
      registered({ id: "a10", gpu: 1, gpuType: "A10", gpuMemoryGib: 24, price: 3 }),
      registered({ id: "cpu" }),
    ]);
    assert.equal(placedNode(place(request({ gpu: 1, gpuType: "A10" }), cluster)), "a10");
    const none = place(request({ gpu: 1, gpuType: "H100" }), cluster);
    assert.ok(!none.placed);
    assert.equal(none.reason, "0/3 nodes: 2 gpu type mismatch, 1 insufficient gpu");
  });

  describe("spot", () => {
    const base = [
      registered({ id: "spot-cheap", spot: true, price: 0.3 }),
      registered({ id: "spot-dear", spot: true, price: 0.8 }),
      registered({ id: "ondemand", price: 2 }),
    ];

    it("given spot allowed under a ceiling, then the cheapest acceptable spot node wins", () => {
      const decision = place(request({ cpu: 100, spotAllowed: true, maxSpotPrice: 0.5 }), clusterFrom(base));
      assert.ok(decision.placed);
      assert.equal(decision.nodeId, "spot-cheap");
      assert.equal(decision.spot, true);
    });

    it("given the cheap spot node full, then a spot node above the ceiling is skipped for on-demand", () => {
      const cluster = clusterFrom([...base, scheduled("x", "other", "spot-cheap", { cpuMillis: 4000 })]);
      const decision = place(request({ cpu: 100, spotAllowed: true, maxSpotPrice: 0.5 }), cluster);
      assert.equal(placedNode(decision), "ondemand");
    });

    it("given spot not allowed, then spot nodes are rejected with the reason", () => {
      const cluster = clusterFrom([...base, scheduled("x", "other", "ondemand", { cpuMillis: 4000 })]);
      const decision = place(request({ cpu: 100 }), cluster);
      assert.ok(!decision.placed);
      assert.equal(decision.reason, "0/3 nodes: 2 spot not allowed, 1 insufficient cpu");
    });

    it("given all spot nodes above the ceiling, then the reason names the ceiling", () => {
      const decision = place(request({ cpu: 100, spotAllowed: true, maxSpotPrice: 0.1 }), clusterFrom(base.slice(0, 2)));
      assert.ok(!decision.placed);
      assert.equal(decision.reason, "0/2 nodes: 2 spot price above ceiling");
    });
  });

  it("given cordoned and lost nodes, then they are skipped", () => {
    const cluster = clusterFrom([
      registered({ id: "a", cpu: 64000 }),
      registered({ id: "b", cpu: 64000 }),
      registered({ id: "c", cpu: 1000 }),
      cordonEvent("a"),
      lostEvent("b"),
    ]);
    assert.equal(placedNode(place(request({ cpu: 500 }), cluster)), "c");
    const none = place(request({ cpu: 2000 }), cluster);
    assert.ok(!none.placed);
    assert.equal(none.reason, "0/3 nodes: 2 node not ready, 1 insufficient cpu");
  });

  it("given an instance already placed, when retried, then it gets the same node even though that node is now full", () => {
    const cluster = clusterFrom([
      registered({ id: "a", cpu: 1000 }),
      registered({ id: "b", cpu: 8000 }),
      scheduled("i1", "svc", "a", { cpuMillis: 1000 }),
    ]);
    assert.equal(placedNode(place(request({ instanceId: "i1", cpu: 1000 }), cluster)), "a");
  });

  it("given an instance placed on a node since lost, when retried, then it is placed anew", () => {
    const cluster = clusterFrom([
      registered({ id: "a", cpu: 1000 }),
      registered({ id: "b", cpu: 8000 }),
      scheduled("i1", "svc", "a", { cpuMillis: 1000 }),
      lostEvent("a"),
    ]);
    assert.equal(placedNode(place(request({ instanceId: "i1", cpu: 1000 }), cluster)), "b");
  });
});

describe("place with an instance-type priority list", () => {
  const list = [
    { type: "spot-a", spotPriceLimit: 0.5 },
    { type: "od-b", spotPriceLimit: 0 },
  ];
  const nodes = [
    registered({ id: "n1-od", instanceType: "od-b", price: 1 }),
    registered({ id: "n2-spot", instanceType: "spot-a", spot: true, price: 0.2 }),
    registered({ id: "n3-od", instanceType: "od-b", price: 1 }),
  ];

  it("given a spot bid listed first, places the first replica on the spot node, then spreads over the next type", () => {
    const { nodes: placed } = placeAll(clusterFrom(nodes), [
      { instanceId: "r1", service: "s", cpu: 100, spotAllowed: true, instanceTypes: list },
      { instanceId: "r2", service: "s", cpu: 100, spotAllowed: true, instanceTypes: list },
    ]);
    assert.deepEqual(placed, ["n2-spot", "n1-od"]);
  });

  it("given the spot node out of service (a reclaim notice), places on the next type in the list", () => {
    const reclaiming: ClusterEvent = {
      type: "eas.v1.NodeReclaimNoticed",
      data: { nodeId: "n2-spot", deadline: iso(T0 + 30_000), reason: "test", at: iso(T0 + 1) },
    };
    const cluster = clusterFrom([...nodes, reclaiming]);
    const decision = place(request({ instanceId: "r1", service: "s", cpu: 100, spotAllowed: true, instanceTypes: list }), cluster);
    assert.equal(placedNode(decision), "n1-od");
  });

  it("given only listed types that do not fit, says why per node", () => {
    const decision = place(request({ instanceId: "r1", instanceTypes: [{ type: "gpu-x", spotPriceLimit: 0 }] }), clusterFrom(nodes));
    assert.equal(decision.placed, false);
    assert.equal(decision.placed ? "" : decision.reason, "0/3 nodes: 2 instance type not listed, 1 spot not allowed");
  });
});

describe("summarizeRejections", () => {
  const rows: Array<[string, number, Record<string, string>, string]> = [
    ["no nodes", 0, {}, "0/0 nodes available: no nodes registered"],
    ["one reason", 1, { a: "insufficient cpu" }, "0/1 nodes: 1 insufficient cpu"],
    [
      "most frequent first",
      3,
      { a: "other resource group", b: "insufficient memory", c: "insufficient memory" },
      "0/3 nodes: 2 insufficient memory, 1 other resource group",
    ],
    [
      "ties by name",
      4,
      { a: "spot not allowed", b: "insufficient cpu", c: "node not ready", d: "insufficient cpu" },
      "0/4 nodes: 2 insufficient cpu, 1 node not ready, 1 spot not allowed",
    ],
  ];
  for (const [what, total, rejections, expected] of rows) {
    it(what, () => assert.equal(summarizeRejections(total, rejections), expected));
  }
});

describe("scheduleInstance, through the instance lifecycle decider", () => {
  it("records the request and the decision as an InstanceScheduled event", () => {
    const next = request({ instanceId: "i1", cpu: 250, memory: 256, version: 3 });
    const event = instanceScheduled(next, { placed: true, nodeId: "a", pool: "dedicated", agentAddress: "h:1", spot: true }, T0);
    assert.deepEqual(event, {
      type: "eas.v1.InstanceScheduled",
      data: {
        instanceId: "i1",
        service: "svc",
        version: 3,
        nodeId: "a",
        resources: next.resources,
        pool: "dedicated",
        spot: true,
        at: "2026-01-01T00:00:00.000Z",
      },
    });
  });
});

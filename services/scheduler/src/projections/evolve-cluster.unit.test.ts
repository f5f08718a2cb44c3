import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { event } from "@eas/events";
import { freeCapacity, NodeStatus } from "../domain/index.js";
import { T0, clusterFrom, iso, registered, scheduled } from "../testing/fixtures.js";
import {
  allocationsOn,
  applyHeartbeat,
  emptyCluster,
  evolveCluster,
  findLostNodes,
  isClusterEvent,
  placementOf,
  toNodeInfo,
  type ClusterEvent,
  type ClusterState,
} from "./evolve-cluster.js";

const stopped = (instanceId: string, nodeId: string): ClusterEvent => ({
  type: "eas.v1.InstanceStopped",
  data: { instanceId, service: "svc", nodeId, reason: "scale-in", at: iso(T0 + 10) },
});
const failed = (instanceId: string): ClusterEvent => ({
  type: "eas.v1.InstanceFailed",
  data: { instanceId, service: "svc", reason: "crash loop", at: iso(T0 + 10) },
});
const lost = (nodeId: string): ClusterEvent => ({
  type: "eas.v1.NodeLost",
  data: { nodeId, reason: "heartbeat timeout", at: iso(T0 + 20) },
});

function node(cluster: ClusterState, id: string) {
  const found = cluster.nodes.get(id);
  assert.ok(found, `node ${id} in the cluster view`);
  return found;
}

describe("evolveCluster: node lifecycle", () => {
  it("registers a node as Ready with its registration time as first heartbeat", () => {
    const cluster = clusterFrom([registered({ id: "n1", group: "team-a", spot: true, price: 0.4 })]);
    const n1 = node(cluster, "n1");
    assert.equal(n1.status, NodeStatus.Ready);
    assert.equal(n1.resourceGroup, "team-a");
    assert.equal(n1.spot, true);
    assert.equal(n1.pricePerHour, 0.4);
    assert.equal(n1.lastHeartbeatAt, T0);
    assert.equal(n1.allocations.size, 0);
  });

  it("cordon, uncordon, lost, then re-registration makes the node Ready again", () => {
    const events: Array<[ClusterEvent, NodeStatus]> = [
      [registered({ id: "n1" }), NodeStatus.Ready],
      [{ type: "eas.v1.NodeCordoned", data: { nodeId: "n1", reason: "maintenance", at: iso(T0 + 1) } }, NodeStatus.Cordoned],
      [{ type: "eas.v1.NodeUncordoned", data: { nodeId: "n1", at: iso(T0 + 2) } }, NodeStatus.Ready],
      [lost("n1"), NodeStatus.Lost],
      [registered({ id: "n1", at: T0 + 30 }), NodeStatus.Ready],
    ];
    let cluster = emptyCluster();
    for (const [event, status] of events) {
      cluster = evolveCluster(cluster, event);
      assert.equal(node(cluster, "n1").status, status, `after ${event.type}`);
    }
    assert.equal(node(cluster, "n1").statusReason, "");
    assert.equal(node(cluster, "n1").lastHeartbeatAt, T0 + 30);
  });

  it("keeps an operator's cordon when the agent re-registers", () => {
    const cluster = clusterFrom([
      registered({ id: "n1" }),
      { type: "eas.v1.NodeCordoned", data: { nodeId: "n1", reason: "maintenance", at: iso(T0 + 1) } },
      registered({ id: "n1", cpu: 8000, at: T0 + 2 }),
    ]);
    assert.equal(node(cluster, "n1").status, NodeStatus.Cordoned);
    assert.equal(node(cluster, "n1").capacity.cpuMillis, 8000);
  });

  it("ignores status events for unknown nodes and does not modify its input", () => {
    const before = clusterFrom([registered({ id: "n1" })]);
    const after = evolveCluster(before, lost("ghost"));
    assert.equal(after, before);
    const lostN1 = evolveCluster(before, lost("n1"));
    assert.equal(node(before, "n1").status, NodeStatus.Ready);
    assert.equal(node(lostN1, "n1").status, NodeStatus.Lost);
  });
});

describe("evolveCluster: allocations", () => {
  const base = [registered({ id: "n1", cpu: 4000, memory: 8192 }), registered({ id: "n2" })];

  it("InstanceScheduled takes capacity; InstanceStopped gives it back", () => {
    const placed = clusterFrom([...base, scheduled("i1", "svc", "n1", { cpuMillis: 1000, memoryMib: 2048 })]);
    assert.deepEqual(freeCapacity(node(placed, "n1")), { cpuMillis: 3000, memoryMib: 6144, gpu: 0, sharedGpuMemoryGib: 0 });
    assert.equal(placementOf(placed, "i1"), "n1");
    const freed = evolveCluster(placed, stopped("i1", "n1"));
    assert.equal(node(freed, "n1").allocations.size, 0);
    assert.equal(freed.instances.has("i1"), false);
  });

  it("InstanceFailed gives capacity back without naming the node", () => {
    const cluster = clusterFrom([...base, scheduled("i1", "svc", "n1", { cpuMillis: 1000 }), failed("i1")]);
    assert.equal(node(cluster, "n1").allocations.size, 0);
    assert.equal(cluster.instances.size, 0);
  });

  it("is idempotent for a repeated InstanceScheduled", () => {
    const once = clusterFrom([...base, scheduled("i1", "svc", "n1", { cpuMillis: 1000 })]);
    const twice = evolveCluster(once, scheduled("i1", "svc", "n1", { cpuMillis: 1000 }));
    assert.equal(node(twice, "n1").allocations.size, 1);
    assert.equal(freeCapacity(node(twice, "n1")).cpuMillis, 3000);
  });

  it("keeps an instance where it was first scheduled: a second InstanceScheduled is not a legal move", () => {
    const cluster = clusterFrom([
      ...base,
      scheduled("i1", "svc", "n1", { cpuMillis: 1000 }),
      scheduled("i1", "svc", "n2", { cpuMillis: 1000 }),
    ]);
    assert.equal(node(cluster, "n1").allocations.size, 1);
    assert.equal(node(cluster, "n2").allocations.size, 0);
    assert.equal(placementOf(cluster, "i1"), "n1");
  });

  it("follows the instance's lifecycle through Starting and Ready, and frees on its end only", () => {
    const ready = clusterFrom([
      ...base,
      scheduled("i1", "svc", "n1", { cpuMillis: 1000 }),
      event("InstanceStarting", { instanceId: "i1", service: "svc", nodeId: "n1", restartCount: 0, at: iso(T0 + 1) }),
      event("InstanceReady", { instanceId: "i1", service: "svc", version: 1, nodeId: "n1", endpoint: "h:1", at: iso(T0 + 2) }),
      event("InstanceDraining", { instanceId: "i1", service: "svc", at: iso(T0 + 3) }),
    ]);
    assert.equal(ready.instances.get("i1")?.phase, "Draining");
    assert.equal(node(ready, "n1").allocations.size, 1, "a draining instance still holds its place");
    assert.equal(node(evolveCluster(ready, stopped("i1", "n1")), "n1").allocations.size, 0);
  });

  it("ignores stops of unknown instances and schedules onto unknown nodes", () => {
    const start = clusterFrom(base);
    assert.equal(evolveCluster(start, stopped("nope", "n1")), start);
    assert.equal(evolveCluster(start, failed("nope")), start);
    const ghost = evolveCluster(start, scheduled("i1", "svc", "ghost"));
    assert.equal(ghost.instances.has("i1"), false);
  });

  it("keeps allocations through NodeLost and re-registration until the instances are stopped or failed", () => {
    const cluster = clusterFrom([
      ...base,
      scheduled("i1", "svc", "n1", { cpuMillis: 500 }),
      lost("n1"),
      registered({ id: "n1", at: T0 + 30 }),
    ]);
    assert.deepEqual(
      allocationsOn(cluster, "n1").map((a) => a.instanceId),
      ["i1"],
    );
    assert.deepEqual(allocationsOn(cluster, "ghost"), []);
  });

  it("records the pool and spot flag of each allocation", () => {
    const cluster = clusterFrom([...base, scheduled("i1", "svc", "n1", {}, { pool: "dedicated", spot: true })]);
    const allocation = node(cluster, "n1").allocations.get("i1");
    assert.equal(allocation?.pool, "dedicated");
    assert.equal(allocation?.spot, true);
    assert.equal(allocation?.scheduledAt, T0);
  });
});

describe("heartbeats and lost nodes", () => {
  const cluster = clusterFrom([registered({ id: "a" }), registered({ id: "b" }), registered({ id: "c" }), lost("c")]);

  it("applyHeartbeat moves lastHeartbeatAt forward only, and ignores unknown nodes", () => {
    const beat = applyHeartbeat(cluster, { type: "Heartbeat", nodeId: "a", now: T0 + 5000 });
    assert.equal(node(beat, "a").lastHeartbeatAt, T0 + 5000);
    assert.equal(applyHeartbeat(beat, { type: "Heartbeat", nodeId: "a", now: T0 + 1000 }), beat);
    assert.equal(applyHeartbeat(beat, { type: "Heartbeat", nodeId: "zzz", now: T0 + 9000 }), beat);
  });

  it("a heartbeat does not revive a Lost node", () => {
    const beat = applyHeartbeat(cluster, { type: "Heartbeat", nodeId: "c", now: T0 + 5000 });
    assert.equal(node(beat, "c").status, NodeStatus.Lost);
  });

  // a beat at T0 + 5 s, b registered at T0 and silent since, c Lost.
  const rows: Array<[string, number, number, string[]]> = [
    ["nobody past the timeout", T0 + 10_000, 10_000, []],
    ["b just past the timeout", T0 + 10_001, 10_000, ["b"]],
    ["a exactly at the timeout is still alive", T0 + 15_000, 10_000, ["b"]],
    ["both past it, the Lost node not repeated", T0 + 30_000, 10_000, ["a", "b"]],
  ];
  for (const [what, now, timeout, expected] of rows) {
    it(`findLostNodes: ${what}`, () => {
      const beat = applyHeartbeat(cluster, { type: "Heartbeat", nodeId: "a", now: T0 + 5000 });
      assert.deepEqual(findLostNodes(beat, now, timeout), expected);
    });
  }
});

describe("toNodeInfo and isClusterEvent", () => {
  it("describes a node in the Scheduler API's shape", () => {
    const cluster = clusterFrom([
      registered({ id: "g1", cpu: 8000, memory: 16384, gpu: 2, gpuType: "A10", gpuMemoryGib: 48 }),
      scheduled("i1", "svc", "g1", { cpuMillis: 1000, memoryMib: 1024, gpu: 1 }),
      scheduled("i2", "svc", "g1", { cpuMillis: 500, memoryMib: 512, gpuMemoryGib: 8 }),
    ]);
    const info = toNodeInfo(node(cluster, "g1"));
    assert.deepEqual(info.allocated, { cpuMillis: 1500, memoryMib: 1536, gpu: 2, gpuType: "A10", gpuMemoryGib: 32 });
    assert.equal(info.instanceCount, 2);
    assert.equal(info.status, "Ready");
    assert.equal(info.lastHeartbeat, iso(T0));
  });

  it("recognises the cluster's event types only", () => {
    assert.equal(isClusterEvent(lost("n1")), true);
    assert.equal(isClusterEvent(failed("i1")), true);
    assert.equal(isClusterEvent(event("ServiceDeleted", { name: "svc", deletedAt: iso(T0) })), false);
  });
});

import assert from "node:assert/strict";
import { describe, it } from "node:test";
import type { ClusterEvent } from "../projections/evolve-cluster.js";
import { T0, clusterFrom, registered, request, scheduled } from "../testing/fixtures.js";
import { awaitedNodes, fleetGraceReason } from "./fleet-grace.js";
import { suggestRebalance, type RebalanceRequest } from "./rebalance.js";

const rebalanceOf = (candidates: string[], overrides: Partial<RebalanceRequest> = {}): RebalanceRequest => {
  const { instanceId: _id, version: _version, ...constraints } = request({ service: "svc", cpu: 500, memory: 256 });
  return { ...constraints, candidates, ...overrides };
};
const replica = (id: string, node: string, second: number, options: { pool?: "dedicated" | "public" } = {}) =>
  scheduled(id, "svc", node, { cpuMillis: 500, memoryMib: 256 }, { at: T0 + second * 1000, ...options });

interface Row {
  readonly name: string;
  readonly events: readonly ClusterEvent[];
  readonly candidates: readonly string[];
  readonly overrides?: Partial<RebalanceRequest>;
  /** [instance, from, to] of the expected move, or undefined for none. */
  readonly move?: readonly [string, string, string];
}

const rows: readonly Row[] = [
  {
    name: "two replicas on one node, an empty node joins: the newer moves there",
    events: [registered({ id: "a" }), registered({ id: "b" }), replica("r1", "a", 1), replica("r2", "a", 2)],
    candidates: ["r1", "r2"],
    move: ["r2", "a", "b"],
  },
  {
    name: "three replicas on two nodes (2+1), a third node joins: one of the two moves",
    events: [
      registered({ id: "a" }),
      registered({ id: "b" }),
      registered({ id: "c" }),
      replica("r1", "a", 1),
      replica("r2", "b", 2),
      replica("r3", "a", 3),
    ],
    candidates: ["r1", "r2", "r3"],
    move: ["r3", "a", "c"],
  },
  {
    name: "already spread: nothing moves",
    events: [registered({ id: "a" }), registered({ id: "b" }), replica("r1", "a", 1), replica("r2", "b", 2)],
    candidates: ["r1", "r2"],
  },
  {
    name: "three replicas on two nodes and no third: 2+1 is as spread as it gets (no trading back and forth)",
    events: [registered({ id: "a" }), registered({ id: "b" }), replica("r1", "a", 1), replica("r2", "b", 2), replica("r3", "a", 3)],
    candidates: ["r1", "r2", "r3"],
  },
  {
    name: "the other node is full: nothing moves",
    events: [registered({ id: "a" }), registered({ id: "b", cpu: 400 }), replica("r1", "a", 1), replica("r2", "a", 2)],
    candidates: ["r1", "r2"],
  },
  {
    name: "the other node is cordoned: nothing moves",
    events: [
      registered({ id: "a" }),
      registered({ id: "b" }),
      { type: "eas.v1.NodeCordoned", data: { nodeId: "b", reason: "maintenance", at: "2026-01-01T00:00:00.000Z" } },
      replica("r1", "a", 1),
      replica("r2", "a", 2),
    ],
    candidates: ["r1", "r2"],
  },
  {
    name: "only Ready instances may move: the one starting stays, the Ready one on the crowded node moves",
    events: [registered({ id: "a" }), registered({ id: "b" }), replica("r1", "a", 1), replica("r2", "a", 2)],
    candidates: ["r1"],
    move: ["r1", "a", "b"],
  },
  {
    name: "a dedicated group's replicas never move to the public pool for spread",
    events: [
      registered({ id: "d1", group: "g" }),
      registered({ id: "p1" }),
      replica("r1", "d1", 1, { pool: "dedicated" }),
      replica("r2", "d1", 2, { pool: "dedicated" }),
    ],
    candidates: ["r1", "r2"],
    overrides: { resourceGroup: "g", resourceBurstable: true },
  },
];

describe("suggestRebalance", () => {
  for (const row of rows) {
    it(row.name, () => {
      const suggestion = suggestRebalance(rebalanceOf([...row.candidates], row.overrides), clusterFrom(row.events));
      if (row.move === undefined) {
        assert.equal(suggestion.move, false, suggestion.reason);
        return;
      }
      assert.ok(suggestion.move, suggestion.reason);
      assert.deepEqual([suggestion.instanceId, suggestion.fromNode, suggestion.toNode], row.move);
    });
  }

  it("explains the move in words", () => {
    const suggestion = suggestRebalance(
      rebalanceOf(["r1", "r2"]),
      clusterFrom([registered({ id: "a" }), registered({ id: "b" }), replica("r1", "a", 1), replica("r2", "a", 2)]),
    );
    assert.equal(suggestion.reason, "node a runs 2 of the 2 replicas of svc; node b runs 0 and fits one");
  });
});

describe("awaitedNodes", () => {
  const cluster = clusterFrom([
    registered({ id: "a" }),
    registered({ id: "b" }),
    registered({ id: "c" }),
    { type: "eas.v1.NodeLost", data: { nodeId: "c", reason: "timeout", at: "2026-01-01T00:00:01.000Z" } },
  ]);

  it("waits for the Ready nodes not heard from since the start, not for the Lost ones", () => {
    assert.deepEqual(
      awaitedNodes(cluster, (id) => id === "a"),
      ["b"],
    );
    assert.deepEqual(
      awaitedNodes(cluster, () => true),
      [],
    );
  });

  it("names them in a reason that does not change while it waits", () => {
    assert.equal(fleetGraceReason(["b"], 5000), "waiting up to 5 s after a scheduler start for known node b to register again");
    assert.equal(
      fleetGraceReason(["a", "b", "c", "d", "e"], 5000),
      "waiting up to 5 s after a scheduler start for known nodes a, b, c and 2 more to register again",
    );
  });
});

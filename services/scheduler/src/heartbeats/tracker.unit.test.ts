import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { findLostNodes } from "../projections/evolve-cluster.js";
import { T0, clusterFrom, registered } from "../testing/fixtures.js";
import { createHeartbeatTracker } from "./tracker.js";

const TIMEOUT = 5000;

describe("createHeartbeatTracker", () => {
  it("keeps the latest heartbeat per node", () => {
    const tracker = createHeartbeatTracker({ startedAt: T0 });
    tracker.record("n1", T0 + 2000);
    tracker.record("n1", T0 + 1000);
    assert.equal(tracker.lastSeen("n1"), T0 + 2000);
    assert.equal(tracker.lastSeen("n2"), undefined);
  });

  it("knows an agent's address only once heard from there in this run", () => {
    const tracker = createHeartbeatTracker({ startedAt: T0 });
    assert.equal(tracker.heardAt("n1", "127.0.0.1:36791"), false, "the address the log holds from the previous run");
    tracker.record("n1", T0 + 1000);
    assert.equal(tracker.heardAt("n1", "127.0.0.1:36791"), false, "a heartbeat without an address confirms none");
    tracker.record("n1", T0 + 2000, "127.0.0.1:41001");
    assert.equal(tracker.heardAt("n1", "127.0.0.1:41001"), true);
    assert.equal(tracker.heardAt("n1", "127.0.0.1:36791"), false);
    assert.equal(tracker.heardAt("n1", ""), false);
  });

  it("given nodes registered long before a restart, none is lost within one timeout of the start", () => {
    const longAgo = T0 - 24 * 3600_000;
    const cluster = clusterFrom([registered({ id: "n1", at: longAgo }), registered({ id: "n2", at: longAgo })]);
    const tracker = createHeartbeatTracker({ startedAt: T0 });
    assert.deepEqual(findLostNodes(tracker.overlay(cluster), T0 + TIMEOUT, TIMEOUT), []);
    tracker.record("n1", T0 + 4000);
    assert.deepEqual(findLostNodes(tracker.overlay(cluster), T0 + TIMEOUT + 1, TIMEOUT), ["n2"]);
    assert.deepEqual(findLostNodes(tracker.overlay(cluster), T0 + 4000 + TIMEOUT + 1, TIMEOUT), ["n1", "n2"]);
  });

  it("a registration after the start counts as the node's last sign of life", () => {
    const cluster = clusterFrom([registered({ id: "n1", at: T0 + 10_000 })]);
    const tracker = createHeartbeatTracker({ startedAt: T0 });
    assert.deepEqual(findLostNodes(tracker.overlay(cluster), T0 + 10_000 + TIMEOUT, TIMEOUT), []);
    assert.deepEqual(findLostNodes(tracker.overlay(cluster), T0 + 10_001 + TIMEOUT, TIMEOUT), ["n1"]);
  });

  it("does not change the cluster it overlays", () => {
    const cluster = clusterFrom([registered({ id: "n1", at: T0 - 1 })]);
    const tracker = createHeartbeatTracker({ startedAt: T0 });
    tracker.overlay(cluster);
    assert.equal(cluster.nodes.get("n1")?.lastHeartbeatAt, T0 - 1);
  });
});

import assert from "node:assert/strict";
import { describe, it } from "node:test";
import type { RecordedEvent } from "@eas/event-store";
import { encodeEventData, type EasEvent } from "@eas/events";
import { NodeStatus } from "../domain/index.js";
import { emptyCluster, placementOf, type ClusterEvent, type ClusterState } from "./evolve-cluster.js";
import { T0, iso, registered, scheduled } from "../testing/fixtures.js";
import { clusterFromSnapshot, clusterProjection, clusterToSnapshot, describeCluster } from "./cluster.js";

/** Stores events the way the log would: proto3-JSON data, consecutive positions. */
function recorded(events: readonly (ClusterEvent | EasEvent)[], streamOf: (event: EasEvent) => string): RecordedEvent[] {
  return events.map((event, index) => ({
    id: `e${index}`,
    type: event.type,
    stream: streamOf(event as EasEvent),
    revision: 0,
    position: index + 1,
    time: new Date(T0),
    data: encodeEventData(event as EasEvent),
    metadata: {},
  }));
}

function replay(events: readonly RecordedEvent[]): ClusterState {
  return events.reduce(clusterProjection.evolve, clusterProjection.initialState());
}

const streamOf = (event: EasEvent): string =>
  "nodeId" in event.data && event.type.startsWith("eas.v1.Node") ? `node-${event.data.nodeId}` : `instance-x`;

describe("clusterProjection", () => {
  it("reads nodes and allocations from the stored (proto3-JSON) events", () => {
    const state = replay(
      recorded(
        [
          registered({ id: "n1", cpu: 4000, memory: 8192 }),
          registered({ id: "n2", group: "team-a" }),
          scheduled("i1", "svc", "n1", { cpuMillis: 1000, memoryMib: 512 }),
          { type: "eas.v1.NodeCordoned", data: { nodeId: "n2", reason: "maintenance", at: iso(T0 + 5) } },
        ],
        streamOf,
      ),
    );
    assert.deepEqual([...state.nodes.keys()].sort(), ["n1", "n2"]);
    assert.equal(placementOf(state, "i1"), "n1");
    assert.equal(state.nodes.get("n1")?.allocations.get("i1")?.resources.cpuMillis, 1000);
    assert.equal(state.nodes.get("n2")?.status, NodeStatus.Cordoned);
  });

  it("ignores events the cluster view does not read", () => {
    const before = replay(recorded([registered({ id: "n1" })], streamOf));
    const after = clusterProjection.evolve(
      before,
      recorded(
        [
          {
            type: "eas.v1.InstanceReady",
            data: { instanceId: "i1", service: "svc", nodeId: "n1", endpoint: "127.0.0.1:1", at: iso(T0) },
          } as EasEvent,
        ],
        streamOf,
      )[0]!,
    );
    assert.equal(after, before);
  });

  it("reads only node and instance streams", () => {
    assert.deepEqual(clusterProjection.categories, ["node", "instance"]);
  });

  it("survives a JSON snapshot round trip", () => {
    const state = replay(
      recorded(
        [
          registered({ id: "n1" }),
          registered({ id: "n2", gpu: 2, gpuType: "T4", gpuMemoryGib: 32 }),
          scheduled("i1", "svc", "n1", { cpuMillis: 500 }),
          scheduled("i2", "svc", "n2", { gpu: 1 }),
        ],
        streamOf,
      ),
    );
    const restored = clusterFromSnapshot(JSON.parse(JSON.stringify(clusterToSnapshot(state))));
    assert.deepEqual(restored, state);
    assert.deepEqual(clusterFromSnapshot(clusterToSnapshot(emptyCluster())), emptyCluster());
  });

  it("describes each node for /debug/projections, with in-memory heartbeats", () => {
    const state = replay(recorded([registered({ id: "n1" }), scheduled("i1", "svc", "n1", { cpuMillis: 250 })], streamOf));
    const summary = describeCluster(state, (id) => (id === "n1" ? T0 + 3000 : undefined));
    assert.deepEqual(summary.n1?.instances, ["i1"]);
    assert.equal(summary.n1?.allocated.cpuMillis, 250);
    assert.equal(summary.n1?.lastHeartbeat, iso(T0 + 3000));
    assert.equal(describeCluster(state).n1?.lastHeartbeat, iso(T0));
  });
});

import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { ClusterEventType, type AllocationEvent } from "../nodes/index.js";
import { T0, iso, scheduled } from "../nodes/fixtures.js";
import {
  InstanceAllocationCommandType,
  instanceAllocationDecider,
  RELEASED_REASON,
  type InstanceAllocationCommand,
} from "./instance-allocation.js";

function given(...history: AllocationEvent[]) {
  const state = history.reduce(instanceAllocationDecider.evolve, instanceAllocationDecider.initialState());
  return {
    when: (command: InstanceAllocationCommand) => ({
      then: (expected: AllocationEvent[]) => assert.deepEqual(instanceAllocationDecider.decide(command, state), expected),
    }),
  };
}

const release: InstanceAllocationCommand = { type: InstanceAllocationCommandType.ReleaseInstance, instanceId: "i1", now: T0 + 100 };
const failOn = (nodeId: string): InstanceAllocationCommand => ({
  type: InstanceAllocationCommandType.FailInstanceOnLostNode,
  instanceId: "i1",
  nodeId,
  reason: `node ${nodeId} lost`,
  now: T0 + 100,
});
const stoppedOn = (nodeId: string): AllocationEvent => ({
  type: ClusterEventType.InstanceStopped,
  data: { instanceId: "i1", service: "svc", nodeId, reason: "scale-in", at: iso(T0 + 10) },
});
const failed: AllocationEvent = {
  type: ClusterEventType.InstanceFailed,
  data: { instanceId: "i1", service: "svc", reason: "crash loop", at: iso(T0 + 10) },
};

describe("instanceAllocationDecider", () => {
  it("releases a held placement with reason released", () =>
    given(scheduled("i1", "svc", "n1"))
      .when(release)
      .then([
        {
          type: ClusterEventType.InstanceStopped,
          data: { instanceId: "i1", service: "svc", nodeId: "n1", reason: RELEASED_REASON, at: iso(T0 + 100) },
        },
      ]));

  it("release is idempotent: nothing for a never scheduled, stopped or failed instance", () => {
    given().when(release).then([]);
    given(scheduled("i1", "svc", "n1"), stoppedOn("n1"))
      .when(release)
      .then([]);
    given(scheduled("i1", "svc", "n1"), stoppedOn(""))
      .when(release)
      .then([]);
    given(scheduled("i1", "svc", "n1"), failed)
      .when(release)
      .then([]);
  });

  it("a stop reported by a node the instance has left keeps the new placement", () =>
    given(scheduled("i1", "svc", "n1"), scheduled("i1", "svc", "n2"), stoppedOn("n1"))
      .when(release)
      .then([
        {
          type: ClusterEventType.InstanceStopped,
          data: { instanceId: "i1", service: "svc", nodeId: "n2", reason: RELEASED_REASON, at: iso(T0 + 100) },
        },
      ]));

  it("fails an instance held on the lost node", () =>
    given(scheduled("i1", "svc", "n1"))
      .when(failOn("n1"))
      .then([
        { type: ClusterEventType.InstanceFailed, data: { instanceId: "i1", service: "svc", reason: "node n1 lost", at: iso(T0 + 100) } },
      ]));

  it("does not fail an instance that ended or runs on another node", () => {
    given(scheduled("i1", "svc", "n1"), failed)
      .when(failOn("n1"))
      .then([]);
    given(scheduled("i1", "svc", "n2"))
      .when(failOn("n1"))
      .then([]);
    given().when(failOn("n1")).then([]);
  });

  it("ignores the agent's lifecycle events", () => {
    const starting = { type: "eas.v1.InstanceStarting", data: {} } as unknown as AllocationEvent;
    const state = instanceAllocationDecider.evolve(instanceAllocationDecider.initialState(), starting);
    assert.deepEqual(state, instanceAllocationDecider.initialState());
  });
});

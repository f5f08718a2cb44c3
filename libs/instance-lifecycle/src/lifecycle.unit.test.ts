import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { event } from "@eas/events";
import { absentInstance, evolveInstance, isRoutable, type InstanceLifecycle } from "./lifecycle.js";
import { canMove, hasEnded, InstancePhase, TRANSITIONS, type InstanceEvent } from "./phase.js";

const id = "i-1";
const service = "svc";
const at = (second: number) => `2026-12-01T10:00:${String(second).padStart(2, "0")}.000Z`;

const scheduled = event("InstanceScheduled", {
  instanceId: id,
  service,
  version: 2,
  nodeId: "n1",
  resources: undefined,
  pool: "dedicated",
  spot: true,
  at: at(1),
});
const starting = (restartCount: number, second: number) =>
  event("InstanceStarting", { instanceId: id, service, nodeId: "n1", restartCount, at: at(second) });
const ready = (second: number) =>
  event("InstanceReady", { instanceId: id, service, version: 2, nodeId: "n1", endpoint: "h:1", at: at(second) });
const exited = (second: number) =>
  event("InstanceExited", {
    instanceId: id,
    service,
    exitCode: 3,
    signal: "",
    reason: 'exited with code 3: "boom"',
    restartCount: 0,
    at: at(second),
  });
const draining = (second: number) => event("InstanceDraining", { instanceId: id, service, at: at(second) });
const stopped = (second: number) => event("InstanceStopped", { instanceId: id, service, nodeId: "n1", reason: "stopped", at: at(second) });
const failed = (second: number) => event("InstanceFailed", { instanceId: id, service, reason: "lost", at: at(second) });
const lost = (second: number) => event("InstanceLost", { instanceId: id, service, nodeId: "n1", reason: "node n1 lost", at: at(second) });
const move = (cause: string, second: number) =>
  event("InstanceMoveRequested", {
    instanceId: id,
    service,
    nodeId: "n1",
    cause,
    reason: cause === "reclaim" ? "node n1 reclaimed" : "spread",
    deadline: cause === "reclaim" ? at(30) : "",
    at: at(second),
  });

const fold = (events: InstanceEvent[]): InstanceLifecycle => events.reduce(evolveInstance, absentInstance(id));

describe("evolveInstance", () => {
  it("follows a whole life: scheduled, starting, ready, draining, stopped", () => {
    const life = fold([scheduled, starting(0, 2), ready(3), draining(4), stopped(5)]);
    assert.deepEqual(life, {
      instanceId: id,
      phase: InstancePhase.Stopped,
      service,
      version: 2,
      nodeId: "n1",
      pool: "dedicated",
      spot: true,
      scheduledAt: at(1),
      endpoint: "h:1",
      restartCount: 0,
      reason: "stopped",
      since: at(5),
      everReady: true,
      lostWhileReady: false,
      moveCause: "",
      moveReason: "",
      moveDeadline: "",
    });
  });

  it("keeps routing a Ready instance whose node was lost, not one lost before it was Ready", () => {
    const lostReady = fold([scheduled, starting(0, 2), ready(3), lost(4)]);
    assert.equal(lostReady.phase, InstancePhase.Lost);
    assert.equal(lostReady.reason, "node n1 lost");
    assert.equal(isRoutable(lostReady), true);
    const lostStarting = fold([scheduled, starting(0, 2), lost(3)]);
    assert.equal(isRoutable(lostStarting), false);
    // Its agent reports again: Ready is Ready, an exit is no longer routed.
    assert.equal(isRoutable(evolveInstance(lostStarting, ready(4))), true);
    assert.equal(isRoutable(evolveInstance(lostReady, exited(5))), false);
    assert.equal(isRoutable(evolveInstance(lostReady, draining(5))), false);
  });

  it("marks a move without changing the phase; a Draining or ended instance is not marked", () => {
    const moving = fold([scheduled, starting(0, 2), ready(3), move("reclaim", 4)]);
    assert.equal(moving.phase, InstancePhase.Ready);
    assert.deepEqual([moving.moveCause, moving.moveReason, moving.moveDeadline], ["reclaim", "node n1 reclaimed", at(30)]);
    const leaving = fold([scheduled, starting(0, 2), ready(3), draining(4)]);
    assert.equal(evolveInstance(leaving, move("rebalance", 5)), leaving);
    assert.equal(evolveInstance(absentInstance(id), move("rebalance", 5)).moveCause, "");
  });

  it("keeps the exit reason through the restart, and clears it on Ready", () => {
    const restarting = fold([scheduled, starting(0, 2), exited(3), starting(1, 4)]);
    assert.equal(restarting.phase, InstancePhase.Starting);
    assert.equal(restarting.restartCount, 1);
    assert.equal(restarting.reason, 'exited with code 3: "boom"');
    assert.equal(evolveInstance(restarting, ready(5)).reason, "");
  });

  const revivals: [string, InstanceEvent[], InstanceEvent][] = [
    ["Ready after Draining", [scheduled, starting(0, 2), draining(3)], ready(4)],
    ["Ready after Stopped", [scheduled, starting(0, 2), draining(3), stopped(4)], ready(5)],
    ["Starting after Failed", [scheduled, starting(0, 2), failed(3)], starting(1, 4)],
    ["Stopped after Failed", [scheduled, failed(2)], stopped(3)],
    ["a second InstanceScheduled", [scheduled, starting(0, 2)], { ...scheduled, data: { ...scheduled.data, nodeId: "n2" } }],
    ["Ready of an instance never started", [], ready(2)],
    ["Lost after Draining", [scheduled, starting(0, 2), draining(3)], lost(4)],
    ["Lost after Stopped", [scheduled, starting(0, 2), draining(3), stopped(4)], lost(5)],
  ];
  for (const [name, before, late] of revivals) {
    it(`ignores ${name}: the very same state comes back`, () => {
      const state = fold(before);
      assert.equal(evolveInstance(state, late), state);
    });
  }
});

describe("the transition table", () => {
  it("lets nothing follow Stopped or Failed, and nothing but an end follow Draining", () => {
    assert.deepEqual(TRANSITIONS.Stopped, []);
    assert.deepEqual(TRANSITIONS.Failed, []);
    assert.deepEqual(TRANSITIONS.Draining, [InstancePhase.Stopped, InstancePhase.Failed]);
  });

  it("lets every live phase but Draining become Lost, and a Lost instance anything but Scheduled, Starting or Lost", () => {
    for (const phase of Object.values(InstancePhase)) {
      const expected =
        phase !== InstancePhase.Absent && phase !== InstancePhase.Lost && phase !== InstancePhase.Draining && !hasEnded(phase);
      assert.equal(canMove(phase, InstancePhase.Lost), expected, phase);
    }
    assert.deepEqual(TRANSITIONS.Lost, [
      InstancePhase.Ready,
      InstancePhase.Unhealthy,
      InstancePhase.Exited,
      InstancePhase.Draining,
      InstancePhase.Stopped,
      InstancePhase.Failed,
    ]);
  });

  it("reaches Stopped and Failed from every live phase, and Scheduled only from Absent", () => {
    for (const phase of Object.values(InstancePhase)) {
      const live = phase !== InstancePhase.Stopped && phase !== InstancePhase.Failed;
      assert.equal(canMove(phase, InstancePhase.Stopped), live, phase);
      assert.equal(canMove(phase, InstancePhase.Failed), live, phase);
      assert.equal(canMove(phase, InstancePhase.Scheduled), phase === InstancePhase.Absent, phase);
    }
  });
});

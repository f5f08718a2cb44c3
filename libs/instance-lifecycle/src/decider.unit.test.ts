import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { PreconditionFailedError } from "@eas/decider";
import { deciderSpecification } from "@eas/decider/testing";
import { event } from "@eas/events";
import {
  InstanceAlreadyEnded,
  InstanceCommandType,
  InstanceTransitionRefused,
  instanceLifecycleDecider,
  type InstanceCommand,
} from "./decider.js";
import { InstancePhase, MoveCause, type InstanceEvent } from "./phase.js";

const spec = deciderSpecification(instanceLifecycleDecider);
const id = "iris-v1-abc";
const service = "iris";
const at = "2026-12-01T10:00:00.000Z";
const now = "2026-12-01T10:00:05.000Z";

const scheduled = event("InstanceScheduled", {
  instanceId: id,
  service,
  version: 1,
  nodeId: "node-1",
  resources: { cpuMillis: 500, memoryMib: 256, gpu: 0, gpuType: "", gpuMemoryGib: 0 },
  pool: "public",
  spot: false,
  at,
});
const starting = event("InstanceStarting", { instanceId: id, service, nodeId: "node-1", restartCount: 0, at });
const ready = event("InstanceReady", { instanceId: id, service, version: 1, nodeId: "node-1", endpoint: "127.0.0.1:9000", at });
const exited = event("InstanceExited", { instanceId: id, service, exitCode: 3, signal: "", reason: "boom", restartCount: 0, at });
const draining = event("InstanceDraining", { instanceId: id, service, at });
const stopped = event("InstanceStopped", { instanceId: id, service, nodeId: "node-1", reason: "stopped", at });
const failed = event("InstanceFailed", { instanceId: id, service, reason: "node node-1 lost", at });

const commands = {
  schedule: {
    type: InstanceCommandType.ScheduleInstance,
    instanceId: id,
    service,
    version: 1,
    nodeId: "node-2",
    resources: { cpuMillis: 500, memoryMib: 256, gpu: 0, gpuType: "", gpuMemoryGib: 0 },
    pool: "public",
    spot: false,
    now,
  },
  starting: { type: InstanceCommandType.ReportStarting, instanceId: id, service, nodeId: "node-1", restartCount: 1, now },
  ready: { type: InstanceCommandType.ReportReady, instanceId: id, service, version: 1, nodeId: "node-1", endpoint: "127.0.0.1:9000", now },
  unhealthy: { type: InstanceCommandType.ReportUnhealthy, instanceId: id, service, reason: "HTTP 503", now },
  exited: {
    type: InstanceCommandType.ReportExited,
    instanceId: id,
    service,
    exitCode: 1,
    signal: "",
    reason: "crash",
    restartCount: 0,
    now,
  },
  drain: { type: InstanceCommandType.DrainInstance, instanceId: id, service, now },
  stop: { type: InstanceCommandType.ReportStopped, instanceId: id, nodeId: "node-1", reason: "stopped", now },
  fail: { type: InstanceCommandType.FailInstance, instanceId: id, reason: "agent restarted", now },
  lost: { type: InstanceCommandType.MarkLost, instanceId: id, reason: "node node-1 lost", now },
  move: {
    type: InstanceCommandType.RequestMove,
    instanceId: id,
    cause: MoveCause.Reclaim,
    reason: "spot node node-1 reclaimed",
    deadline: "2026-12-01T10:00:35.000Z",
    now,
  },
} satisfies Record<string, InstanceCommand>;

describe("instanceLifecycleDecider", () => {
  it("given nothing, when scheduled, records InstanceScheduled with the command's time", () => {
    spec
      .given([])
      .when(commands.schedule)
      .then([
        event("InstanceScheduled", {
          instanceId: id,
          service,
          version: 1,
          nodeId: "node-2",
          resources: commands.schedule.resources,
          pool: "public",
          spot: false,
          at: now,
        }),
      ]);
  });

  it("given a scheduled instance, when scheduled again (a retried placement), records nothing", () => {
    spec.given([scheduled]).when(commands.schedule).then([]);
  });

  it("given an ended instance, when scheduled again, refuses: a placement needs a new id", () => {
    spec.given([scheduled, failed]).when(commands.schedule).thenThrows(InstanceAlreadyEnded);
  });

  it("given a starting instance, when Ready is reported, records it", () => {
    spec
      .given([scheduled, starting])
      .when(commands.ready)
      .then([event("InstanceReady", { instanceId: id, service, version: 1, nodeId: "node-1", endpoint: "127.0.0.1:9000", at: now })]);
  });

  it("given a draining instance (stopped while it was starting), when Ready is reported, refuses and says it is Draining", () => {
    spec
      .given([scheduled, starting, draining])
      .when(commands.ready)
      .thenThrows(InstanceTransitionRefused, (error) => {
        assert.equal(error.from, InstancePhase.Draining);
        assert.equal(error.to, InstancePhase.Ready);
        assert.ok(error instanceof PreconditionFailedError, "FAILED_PRECONDITION over gRPC");
      });
  });

  it("given a draining instance, when its process exits, refuses: it is not restarted", () => {
    spec.given([scheduled, starting, ready, draining]).when(commands.exited).thenThrows(InstanceTransitionRefused);
  });

  const ended: [string, InstanceEvent][] = [
    ["Stopped", stopped],
    ["Failed", failed],
  ];
  for (const [name, end] of ended) {
    for (const report of [commands.starting, commands.ready, commands.unhealthy, commands.exited]) {
      it(`given a ${name} instance, when ${report.type} arrives, refuses: nothing follows an end`, () => {
        spec.given([scheduled, starting, end]).when(report).thenThrows(InstanceTransitionRefused);
      });
    }
    for (const settled of [commands.drain, commands.stop, commands.fail]) {
      it(`given a ${name} instance, when ${settled.type}, records nothing (idempotent)`, () => {
        spec.given([scheduled, starting, end]).when(settled).then([]);
      });
    }
  }

  it("given a ready instance, when drained, records InstanceDraining; drained again, records nothing", () => {
    spec
      .given([scheduled, starting, ready])
      .when(commands.drain)
      .then([event("InstanceDraining", { instanceId: id, service, at: now })]);
    spec.given([scheduled, starting, ready, draining]).when(commands.drain).then([]);
  });

  it("given a draining instance, when its stop is reported, records InstanceStopped with the service from the stream", () => {
    spec
      .given([scheduled, starting, ready, draining])
      .when(commands.stop)
      .then([event("InstanceStopped", { instanceId: id, service, nodeId: "node-1", reason: "stopped", at: now })]);
  });

  it("given an instance on node-1, when failed only on node-2 (a stale lost node), records nothing", () => {
    spec
      .given([scheduled, starting])
      .when({ ...commands.fail, onlyOnNode: "node-2" })
      .then([]);
    spec
      .given([scheduled, starting])
      .when({ ...commands.fail, onlyOnNode: "node-1" })
      .thenMatches((events) =>
        assert.deepEqual(
          events.map((e) => e.type),
          ["eas.v1.InstanceFailed"],
        ),
      );
  });

  it("given nothing (an agent reaping an instance never placed), when failed, records InstanceFailed with the command's service", () => {
    spec
      .given([])
      .when({ ...commands.fail, service })
      .then([event("InstanceFailed", { instanceId: id, service, reason: "agent restarted", at: now })]);
  });

  it("given an exited instance, when it restarts, records Starting; when Ready is reported before Starting, refuses", () => {
    spec
      .given([scheduled, starting, exited])
      .when(commands.starting)
      .thenMatches((events) =>
        assert.deepEqual(
          events.map((e) => e.type),
          ["eas.v1.InstanceStarting"],
        ),
      );
    spec.given([scheduled, starting, exited]).when(commands.ready).thenThrows(InstanceTransitionRefused);
  });

  it("given a Ready instance, when marked Lost, records InstanceLost with its node; marked again or elsewhere, records nothing", () => {
    spec
      .given([scheduled, starting, ready])
      .when(commands.lost)
      .then([event("InstanceLost", { instanceId: id, service, nodeId: "node-1", reason: "node node-1 lost", at: now })]);
    const lost = event("InstanceLost", { instanceId: id, service, nodeId: "node-1", reason: "node node-1 lost", at });
    spec.given([scheduled, starting, ready, lost]).when(commands.lost).then([]);
    spec
      .given([scheduled, starting, ready])
      .when({ ...commands.lost, onlyOnNode: "node-2" })
      .then([]);
    spec.given([scheduled, starting, ready, draining]).when(commands.lost).then([]);
    spec.given([]).when(commands.lost).then([]);
  });

  it("given a Lost instance, when its agent reports Ready again, records it", () => {
    const lost = event("InstanceLost", { instanceId: id, service, nodeId: "node-1", reason: "node node-1 lost", at });
    spec
      .given([scheduled, starting, ready, lost])
      .when(commands.ready)
      .thenMatches((events) =>
        assert.deepEqual(
          events.map((e) => e.type),
          ["eas.v1.InstanceReady"],
        ),
      );
  });

  it("given a Ready instance, when a move is requested, records InstanceMoveRequested with its node and the phase unchanged", () => {
    spec
      .given([scheduled, starting, ready])
      .when(commands.move)
      .then([
        event("InstanceMoveRequested", {
          instanceId: id,
          service,
          nodeId: "node-1",
          cause: "reclaim",
          reason: "spot node node-1 reclaimed",
          deadline: "2026-12-01T10:00:35.000Z",
          at: now,
        }),
      ]);
  });

  it("given a move for a rebalance, a reclaim overrides it; a second rebalance, or a move of a draining instance, records nothing", () => {
    const rebalancing = event("InstanceMoveRequested", {
      instanceId: id,
      service,
      nodeId: "node-1",
      cause: "rebalance",
      reason: "spread",
      deadline: "",
      at,
    });
    spec
      .given([scheduled, starting, ready, rebalancing])
      .when(commands.move)
      .thenMatches((events) => assert.equal(events.length, 1));
    spec
      .given([scheduled, starting, ready, rebalancing])
      .when({ ...commands.move, cause: MoveCause.Rebalance, deadline: "" })
      .then([]);
    spec.given([scheduled, starting, ready, draining]).when(commands.move).then([]);
    spec
      .given([scheduled, starting, ready])
      .when({ ...commands.move, onlyOnNode: "node-2" })
      .then([]);
  });
});

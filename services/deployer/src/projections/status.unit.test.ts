import { describe, it } from "node:test";
import assert from "node:assert/strict";
import type { RecordedEvent } from "@eas/event-store";
import { encodeEventData, event, type EasEvent } from "@eas/events";
import { ServiceSpec } from "@eas/proto";
import { serviceViewsProjection, type ServiceViews } from "./service-views.js";
import { SCALED_TO_ZERO, summarizeStatus, type ServiceStatusSummary } from "./status.js";

const at = (s: number) => new Date(Date.UTC(2026, 11, 4, 12, 0, s)).toISOString();

function fold(events: EasEvent[]): ServiceViews {
  return events.reduce((views, e, i) => {
    const recorded: RecordedEvent = {
      id: `e${i}`,
      type: e.type,
      stream: "x-y",
      revision: 0,
      position: i + 1,
      time: new Date(0),
      data: encodeEventData(e),
      metadata: {},
    };
    return serviceViewsProjection.evolve(views, recorded);
  }, serviceViewsProjection.initialState());
}

const spec = (instance: number) => ServiceSpec.fromPartial({ name: "echo", instance });
const created = (instance: number) =>
  event("ServiceCreated", { name: "echo", spec: spec(instance), version: 1, token: "", createdAt: at(0), tokenSha256: "ab12" });
const updated = (version: number, instance: number) =>
  event("ServiceUpdated", { name: "echo", spec: spec(instance), version, updateType: "merge", updatedAt: at(10) });
const scaled = (from: number, to: number) =>
  event("ServiceScaled", { name: "echo", fromReplicas: from, toReplicas: to, cause: "user", scaledAt: at(20) });
const scheduled = (id: string, version = 1) =>
  event("InstanceScheduled", {
    instanceId: id,
    service: "echo",
    version,
    nodeId: "n1",
    resources: undefined,
    pool: "public",
    spot: false,
    at: at(1),
  });
const starting = (id: string, restartCount = 0) =>
  event("InstanceStarting", { instanceId: id, service: "echo", nodeId: "n1", restartCount, at: at(2) });
const ready = (id: string, version = 1) =>
  event("InstanceReady", { instanceId: id, service: "echo", version, nodeId: "n1", endpoint: "127.0.0.1:9", at: at(3) });
const up = (id: string, version = 1): EasEvent[] => [scheduled(id, version), starting(id), ready(id, version)];
const exited = (id: string) =>
  event("InstanceExited", {
    instanceId: id,
    service: "echo",
    exitCode: 1,
    signal: "",
    reason: "process exited with code 1",
    restartCount: 0,
    at: at(30),
  });
const draining = (id: string) => event("InstanceDraining", { instanceId: id, service: "echo", at: at(31) });
const stopped = (id: string) => event("InstanceStopped", { instanceId: id, service: "echo", nodeId: "n1", reason: "stopped", at: at(32) });

type Expected = Pick<ServiceStatusSummary, "status" | "running" | "pending" | "total"> & { reason?: string | RegExp };

const rows: { given: string; events: EasEvent[]; expected: Expected }[] = [
  {
    given: "a new service whose instance is starting",
    events: [created(1), scheduled("a"), starting("a")],
    expected: { status: "Creating", running: 0, pending: 1, total: 1, reason: /instance a of version 1 is not Ready yet/ },
  },
  {
    given: "every wanted instance Ready",
    events: [created(2), ...up("a"), ...up("b")],
    expected: { status: "Running", running: 2, pending: 0, total: 2 },
  },
  {
    given: "a rolling update whose new instance is starting while the old one serves",
    events: [created(1), ...up("a"), updated(2, 1), scheduled("b", 2), starting("b")],
    // The old version's Ready instance counts as Running: it serves.
    expected: { status: "Updating", running: 1, pending: 1, total: 2 },
  },
  {
    given: "a rolling update whose new instance is Ready and the old one draining",
    events: [created(1), ...up("a"), updated(2, 1), ...up("b", 2), draining("a")],
    expected: { status: "Updating", running: 1, pending: 0, total: 2 },
  },
  {
    given: "the update done",
    events: [created(1), ...up("a"), updated(2, 1), ...up("b", 2), draining("a"), stopped("a")],
    expected: { status: "Running", running: 1, pending: 0, total: 1 },
  },
  {
    given: "a scale out under way",
    events: [created(1), ...up("a"), scaled(1, 3), scheduled("b"), starting("b")],
    expected: { status: "Scaling", running: 1, pending: 1, total: 2 },
  },
  {
    given: "a scale in under way",
    events: [created(2), ...up("a"), ...up("b"), scaled(2, 1), draining("b")],
    expected: { status: "Scaling", running: 1, pending: 0, total: 2 },
  },
  {
    given: "scale 0 with an instance still draining",
    events: [created(1), ...up("a"), scaled(1, 0), draining("a")],
    expected: { status: "Scaling", running: 0, pending: 0, total: 1, reason: `${SCALED_TO_ZERO}: stopping the last instances` },
  },
  {
    given: "scale 0 done: nothing runs, nothing serves",
    events: [created(1), ...up("a"), scaled(1, 0), draining("a"), stopped("a")],
    expected: { status: "Stopped", running: 0, pending: 0, total: 0, reason: SCALED_TO_ZERO },
  },
  {
    given: "a service created with 0 instances",
    events: [created(0)],
    expected: { status: "Stopped", running: 0, pending: 0, total: 0, reason: SCALED_TO_ZERO },
  },
  {
    given: "a stop with an instance still draining",
    events: [created(1), ...up("a"), event("ServiceStopped", { name: "echo", stoppedAt: at(40) }), draining("a")],
    expected: { status: "Stopping", running: 0, pending: 0, total: 1, reason: "" },
  },
  {
    given: "a start after a stop, the instance starting",
    events: [
      created(1),
      ...up("a"),
      event("ServiceStopped", { name: "echo", stoppedAt: at(40) }),
      draining("a"),
      stopped("a"),
      event("ServiceStarted", { name: "echo", startedAt: at(41) }),
      scheduled("b"),
      starting("b"),
    ],
    expected: { status: "Starting", running: 0, pending: 1, total: 1 },
  },
  {
    given: "the only instance of a running service crashed and restarts",
    events: [created(1), ...up("a"), exited("a"), starting("a", 1)],
    expected: {
      status: "Starting",
      running: 0,
      pending: 1,
      total: 1,
      reason: /instance a of version 1 is not Ready \(Starting, restarted 1 time\)/,
    },
  },
  {
    given: "one of two instances crashed and restarts while the other serves",
    events: [created(2), ...up("a"), ...up("b"), exited("a"), starting("a", 1)],
    expected: { status: "Running", running: 1, pending: 1, total: 2, reason: /instance a of version 1 is not Ready/ },
  },
  {
    given: "an instance that cannot be placed",
    events: [created(1), event("ServicePlacementBlocked", { name: "echo", reason: "0/2 nodes: 2 insufficient cpu", at: at(1) })],
    expected: { status: "Waiting", running: 0, pending: 0, total: 0, reason: "0/2 nodes: 2 insufficient cpu" },
  },
];

describe("service status", () => {
  for (const row of rows) {
    it(`given ${row.given}, it is ${row.expected.status}`, () => {
      const summary = summarizeStatus(fold(row.events).echo!);
      const { reason, ...counts } = row.expected;
      assert.deepEqual({ status: summary.status, running: summary.running, pending: summary.pending, total: summary.total }, counts);
      if (typeof reason === "string") assert.equal(summary.reason, reason);
      else if (reason) assert.match(summary.reason, reason);
    });
  }
});

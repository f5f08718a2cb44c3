import { describe, it } from "node:test";
import assert from "node:assert/strict";
import type { RecordedEvent } from "@eas/event-store";
import { encodeEventData, event, type EasEvent } from "@eas/events";
import { ServiceSpec } from "@eas/proto";
import { serviceViewsProjection, type ServiceViews } from "./service-views.js";
import { summarizeStatus } from "./status.js";

let position = 0;
const at = (s: number) => new Date(Date.UTC(2026, 10, 28, 12, 0, s)).toISOString();
function fold(events: EasEvent[], start: ServiceViews = serviceViewsProjection.initialState()): ServiceViews {
  return events.reduce((views, e) => {
    position++;
    const recorded: RecordedEvent = { id: `e${position}`, type: e.type, stream: "x-y", revision: 0, position, time: new Date(0), data: encodeEventData(e), metadata: {} };
    return serviceViewsProjection.evolve(views, recorded);
  }, start);
}

const created = event("ServiceCreated", { name: "iris", spec: ServiceSpec.fromPartial({ name: "iris", instance: 1 }), version: 1, token: "t", createdAt: at(0) });
const scheduled = (id: string) =>
  event("InstanceScheduled", { instanceId: id, service: "iris", version: 1, nodeId: "n1", resources: undefined, pool: "public", spot: false, at: at(1) });
const ready = (id: string) => event("InstanceReady", { instanceId: id, service: "iris", version: 1, nodeId: "n1", endpoint: "127.0.0.1:9", at: at(2) });

describe("service views projection", () => {
  it("a service with its Ready instance is Running", () => {
    const views = fold([created, scheduled("a"), event("InstanceStarting", { instanceId: "a", service: "iris", nodeId: "n1", restartCount: 0, at: at(1) }), ready("a")]);
    assert.equal(views.iris!.instances.a!.status, "Ready");
    assert.equal(summarizeStatus(views.iris!).status, "Running");
  });

  it("a Draining instance stays Draining when a late Ready arrives", () => {
    const views = fold([created, scheduled("a"), ready("a"), event("InstanceDraining", { instanceId: "a", service: "iris", at: at(3) }), ready("a")]);
    assert.equal(views.iris!.instances.a!.status, "Draining");
  });

  it("a deleted service stays until its last instance stopped", () => {
    const deleted = fold([created, scheduled("a"), ready("a"), event("ServiceDeleted", { name: "iris", deletedAt: at(4) })]);
    assert.equal(deleted.iris!.deleted, true);
    const gone = fold([event("InstanceStopped", { instanceId: "a", service: "iris", nodeId: "n1", reason: "stopped", at: at(5) })], deleted);
    assert.equal(gone.iris, undefined);
  });

  it("counts failures of its own instances only, and shows Failed after a crash loop", () => {
    const foreign = fold([created, event("InstanceFailed", { instanceId: "zz", service: "iris", reason: "x", at: at(2) })]);
    assert.equal(foreign.iris!.failuresSinceReady, 0);
    const looping = fold([
      created,
      ...["a", "b", "c"].flatMap((id) => [scheduled(id), event("InstanceFailed", { instanceId: id, service: "iris", reason: "object not found", at: at(3) })]),
    ]);
    assert.equal(looping.iris!.failuresSinceReady, 3);
    assert.deepEqual(
      { status: summarizeStatus(looping.iris!).status, reason: summarizeStatus(looping.iris!).reason },
      { status: "Failed", reason: "object not found" },
    );
    const recovered = fold([scheduled("d"), ready("d")], looping);
    assert.equal(recovered.iris!.failuresSinceReady, 0);
  });

  it("shows why placement is blocked while no instance can be placed", () => {
    const views = fold([created, event("ServicePlacementBlocked", { name: "iris", reason: "0/2 nodes: 2 insufficient memory", at: at(1) })]);
    assert.deepEqual(
      { status: summarizeStatus(views.iris!).status, reason: summarizeStatus(views.iris!).reason },
      { status: "Waiting", reason: "0/2 nodes: 2 insufficient memory" },
    );
  });
});

import { describe, it } from "node:test";
import assert from "node:assert/strict";
import type { RecordedEvent } from "@eas/event-store";
import { encodeEventData, event, type EasEvent } from "@eas/events";
import { ServiceSpec } from "@eas/proto";
import { serviceCatalogProjection } from "./service-catalog.js";

let position = 0;
function recorded(e: EasEvent, stream = "service-iris"): RecordedEvent {
  position++;
  return { id: `e${position}`, type: e.type, stream, revision: 0, position, time: new Date(0), data: encodeEventData(e), metadata: {} };
}
const fold = (events: EasEvent[]) =>
  events.map((e) => recorded(e)).reduce(serviceCatalogProjection.evolve, serviceCatalogProjection.initialState());

const T = "2026-11-28T00:00:00.000Z";
const created = event("ServiceCreated", {
  name: "iris",
  spec: ServiceSpec.fromPartial({ name: "iris", instance: 2 }),
  version: 1,
  token: "t",
  createdAt: T,
});

describe("service catalog projection", () => {
  it("records a created service with its replicas", () => {
    assert.deepEqual(fold([created]), {
      iris: { name: "iris", currentVersion: 1, latestVersion: 1, desiredReplicas: 2, stopped: false, updatedAt: T },
    });
  });

  it("follows updates, scaling, stop and rollback", () => {
    const catalog = fold([
      created,
      event("ServiceUpdated", {
        name: "iris",
        spec: ServiceSpec.fromPartial({ name: "iris", instance: 3 }),
        version: 2,
        updateType: "merge",
        updatedAt: T,
      }),
      event("ServiceScaled", { name: "iris", fromReplicas: 3, toReplicas: 5, cause: "user", scaledAt: T }),
      event("ServiceStopped", { name: "iris", stoppedAt: T }),
      event("ServiceRolledBack", { name: "iris", fromVersion: 2, toVersion: 1, rolledBackAt: T }),
    ]);
    assert.deepEqual(catalog.iris, { name: "iris", currentVersion: 1, latestVersion: 2, desiredReplicas: 5, stopped: true, updatedAt: T });
  });

  it("forgets deleted services and ignores events of unknown ones", () => {
    const catalog = fold([
      created,
      event("ServiceDeleted", { name: "iris", deletedAt: T }),
      event("ServiceStopped", { name: "other", stoppedAt: T }),
    ]);
    assert.deepEqual(catalog, {});
  });

  it("never mutates an entry a reader may hold", () => {
    const catalog = fold([created]);
    const held = catalog.iris!;
    serviceCatalogProjection.evolve(catalog, recorded(event("ServiceStopped", { name: "iris", stoppedAt: T })));
    assert.equal(held.stopped, false);
    assert.equal(catalog.iris!.stopped, true);
  });
});

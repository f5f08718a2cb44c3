import assert from "node:assert/strict";
import { describe, it } from "node:test";
import type { RecordedEvent } from "@eas/event-store";
import { encodeEventData, event, instanceStream, serviceStream, tokenSha256, type EasEvent } from "@eas/events";
import { ServiceSpec } from "@eas/proto";
import { LiveRouteTable } from "../proxy/index.js";
import { routeSyncOnEvent, syncAllRoutes, syncRoute } from "./route-sync.js";
import { routesProjection, type RoutesState } from "./routes-projection.js";

const at = new Date(Date.UTC(2026, 10, 28, 12)).toISOString();
let position = 0;
function stored(e: EasEvent): RecordedEvent {
  const data = e.data as { instanceId?: string; name?: string };
  position++;
  return {
    id: `e${position}`,
    type: e.type,
    stream: data.instanceId ? instanceStream(data.instanceId) : serviceStream(data.name ?? ""),
    revision: 0,
    position,
    time: new Date(at),
    data: encodeEventData(e),
    metadata: {},
  };
}

const created = (name: string) =>
  event("ServiceCreated", {
    name,
    spec: ServiceSpec.fromPartial({ name, instance: 1 }),
    version: 1,
    token: "",
    createdAt: at,
    tokenSha256: tokenSha256(`tok-${name}`),
  });
/** Started and Ready: what an agent reports for an instance that comes up. */
const ready = (instanceId: string, service: string): EasEvent[] => [
  event("InstanceStarting", { instanceId, service, nodeId: "n1", restartCount: 0, at }),
  event("InstanceReady", { instanceId, service, version: 1, nodeId: "n1", endpoint: `127.0.0.1:${9000 + position}`, at }),
];

/** Runs events through the projection and the sync the gateway wires as its onEvent, recording which services changed. */
function follow(table: LiveRouteTable, events: EasEvent[], start: RoutesState = routesProjection.initialState()) {
  const changed: string[] = [];
  const unsubscribe = table.onChange((service) => changed.push(service));
  const onEvent = routeSyncOnEvent(table);
  const state = events.map(stored).reduce((current, recorded) => {
    const next = routesProjection.evolve(current, recorded);
    onEvent(recorded, next);
    return next;
  }, start);
  unsubscribe();
  return { state, changed };
}

describe("route sync", () => {
  it("given an empty table, when a service is created and an instance is Ready, then the table holds the projection's entry", () => {
    const table = new LiveRouteTable();
    const { changed } = follow(table, [created("iris"), ...ready("a", "iris")]);
    assert.deepEqual(
      table.get("iris")?.instances.map((i) => i.id),
      ["a"],
    );
    assert.equal(table.get("iris")?.tokenSha256, tokenSha256("tok-iris"));
    assert.deepEqual(changed, ["iris", "iris", "iris"]);
  });

  it("given a routed service, when it is deleted, then its entry leaves the table and other services stay", () => {
    const table = new LiveRouteTable();
    const { state } = follow(table, [created("iris"), created("other"), ...ready("a", "iris")]);
    const { changed } = follow(table, [event("ServiceDeleted", { name: "iris", deletedAt: at })], state);
    assert.equal(table.get("iris"), undefined);
    assert.equal(table.get("other")?.service, "other");
    assert.deepEqual(changed, ["iris"]);
  });

  it("given events of an unknown service, when they are applied, then the table is untouched", () => {
    const table = new LiveRouteTable();
    const { changed } = follow(table, [...ready("x", "ghost"), event("ServiceStopped", { name: "ghost", stoppedAt: at })]);
    assert.equal(table.get("ghost"), undefined);
    assert.deepEqual(changed, []);
  });

  it("syncRoute replaces a stale entry and removes one the projection no longer holds", () => {
    const state = follow(new LiveRouteTable(), [created("iris"), ...ready("a", "iris")]).state;
    const table = new LiveRouteTable([
      { ...syncedEntry(state, "iris"), instances: [] },
      { ...syncedEntry(state, "iris"), service: "gone" },
    ]);
    syncRoute(table, state, "iris");
    syncRoute(table, state, "gone");
    assert.deepEqual(
      table.get("iris")?.instances.map((i) => i.id),
      ["a"],
    );
    assert.equal(table.get("gone"), undefined);
  });

  it("syncAllRoutes copies every service of a state into a fresh table", () => {
    const { state } = follow(new LiveRouteTable(), [created("iris"), created("other"), ...ready("a", "iris")]);
    const table = new LiveRouteTable();
    syncAllRoutes(table, state);
    assert.deepEqual(
      ["iris", "other"].map((name) => [name, table.get(name)?.state]),
      [
        ["iris", "running"],
        ["other", "starting"],
      ],
    );
  });
});

function syncedEntry(state: RoutesState, service: string) {
  const table = new LiveRouteTable();
  syncRoute(table, state, service);
  return table.get(service)!;
}

import assert from "node:assert/strict";
import { describe, it } from "node:test";
import type { RecordedEvent } from "@eas/event-store";
import { encodeEventData, event, groupStream, instanceStream, serviceStream, tokenSha256, type EasEvent } from "@eas/events";
import { ServiceSpec } from "@eas/proto";
import { LiveRouteTable, type RouteEntry } from "../proxy/index.js";
import { routeSyncOnEvent } from "./route-sync.js";
import { routesProjection, toRouteEntry, type RoutesState } from "./routes-projection.js";

const at = new Date(Date.UTC(2026, 11, 4, 12)).toISOString();

function recorded(events: readonly EasEvent[]): RecordedEvent[] {
  return events.map((e, index) => {
    const data = e.data as { instanceId?: string; name?: string };
    const stream = data.instanceId
      ? instanceStream(data.instanceId)
      : e.type.startsWith("eas.v1.ServiceGroup")
        ? groupStream(data.name ?? "")
        : serviceStream(data.name ?? "");
    return {
      id: `e${index}`,
      type: e.type,
      stream,
      revision: 0,
      position: index + 1,
      time: new Date(at),
      data: encodeEventData(e),
      metadata: {},
    };
  });
}

const given = (...events: EasEvent[]): RoutesState => recorded(events).reduce(routesProjection.evolve, routesProjection.initialState());
const entry = (state: RoutesState, name = "iris"): RouteEntry => toRouteEntry(name, state.services[name]!);

const created = (name = "iris") =>
  event("ServiceCreated", {
    name,
    spec: ServiceSpec.fromPartial({ name, instance: 2 }),
    version: 1,
    token: "",
    createdAt: at,
    tokenSha256: tokenSha256(`tok-${name}`),
  });
const versionAdded = (version: number) =>
  event("ServiceVersionAdded", {
    name: "iris",
    spec: ServiceSpec.fromPartial({ name: "iris" }),
    version,
    updateType: "merge",
    addedAt: at,
  });
const canaryStarted = (version: number, weight: number) =>
  event("CanaryStarted", { name: "iris", version, stableVersion: 1, weight, replicas: 0, cause: "user", at });
const weightChanged = (version: number, fromWeight: number, toWeight: number) =>
  event("CanaryWeightChanged", { name: "iris", version, fromWeight, toWeight, replicas: 0, cause: "release plan", at });
const promoted = (toVersion: number) => event("CanaryPromoted", { name: "iris", fromVersion: 1, toVersion, cause: "user", reason: "", at });
const aborted = (version: number) => event("CanaryAborted", { name: "iris", version, cause: "release plan", reason: "gate failed", at });
const rolledBack = (toVersion: number) => event("ServiceRolledBack", { name: "iris", fromVersion: 1, toVersion, rolledBackAt: at });

describe("routes projection: canaries, mirrors and versions", () => {
  it("given a service, when a version is added and a canary started on it, then the route has the canary and its weight", () => {
    const state = given(created(), versionAdded(2), canaryStarted(2, 10));
    assert.deepEqual(entry(state).canary, { version: 2, weight: 10 });
    assert.equal(entry(state).latestVersion, 2);
  });

  it("given a canary, when its weight changes, then the route follows; a change without a canary is ignored", () => {
    assert.deepEqual(entry(given(created(), versionAdded(2), canaryStarted(2, 10), weightChanged(2, 10, 25))).canary, {
      version: 2,
      weight: 25,
    });
    assert.equal(entry(given(created(), weightChanged(2, 10, 25))).canary, undefined);
  });

  it("given a canary, when it is promoted, then there is no canary and its version is not withdrawn", () => {
    const e = entry(given(created(), versionAdded(2), canaryStarted(2, 10), promoted(2)));
    assert.equal(e.canary, undefined);
    assert.deepEqual(e.withdrawn, []);
  });

  it("given a canary, when it is aborted, then its version is withdrawn until a new canary or a rollback brings it back", () => {
    const abortedState = given(created(), versionAdded(2), canaryStarted(2, 10), aborted(2));
    assert.equal(entry(abortedState).canary, undefined);
    assert.deepEqual(entry(abortedState).withdrawn, [2]);
    const again = recorded([canaryStarted(2, 5)]).reduce(routesProjection.evolve, abortedState);
    assert.deepEqual(entry(again).withdrawn, []);
    const rolled = recorded([rolledBack(2)]).reduce(routesProjection.evolve, abortedState);
    assert.deepEqual(entry(rolled).withdrawn, []);
  });

  it("given a service, when mirroring is set and removed, then the route's mirror follows", () => {
    const set = given(
      created(),
      created("shadow"),
      event("MirrorSet", { name: "iris", target: "shadow", targetVersion: 0, ratio: 20, at }),
    );
    assert.deepEqual(entry(set).mirror, { target: "shadow", targetVersion: 0, ratio: 20 });
    const removed = recorded([event("MirrorRemoved", { name: "iris", at })]).reduce(routesProjection.evolve, set);
    assert.equal(entry(removed).mirror, undefined);
  });

  it("release events of an unknown service change nothing", () => {
    const before = given(created());
    const ghost = [
      event("CanaryStarted", { ...canaryStarted(2, 1).data, name: "ghost" }),
      event("MirrorSet", { name: "ghost", target: "iris", targetVersion: 0, ratio: 5, at }),
    ];
    assert.equal(recorded(ghost).reduce(routesProjection.evolve, before), before);
  });
});

describe("routes projection: service groups", () => {
  const groupCreated = event("ServiceGroupCreated", {
    name: "ab",
    members: [
      { service: "a", weight: 70 },
      { service: "b", weight: 30 },
    ],
    tokenSha256: tokenSha256("tok-ab"),
    at,
  });

  it("given nothing, when a group is created, updated and deleted, then the route table follows each step", () => {
    const table = new LiveRouteTable();
    let state = routesProjection.initialState();
    const sync = routeSyncOnEvent(table);
    const apply = (e: EasEvent) => {
      for (const r of recorded([e])) {
        state = routesProjection.evolve(state, r);
        sync(r, state);
      }
    };
    apply(groupCreated);
    assert.deepEqual(table.group("ab"), { group: "ab", tokenSha256: tokenSha256("tok-ab"), members: groupCreated.data.members });
    apply(event("ServiceGroupUpdated", { name: "ab", members: [{ service: "a", weight: 100 }], at }));
    assert.deepEqual(table.group("ab")?.members, [{ service: "a", weight: 100 }]);
    assert.equal(table.group("ab")?.tokenSha256, tokenSha256("tok-ab"));
    apply(event("ServiceGroupDeleted", { name: "ab", at }));
    assert.equal(table.group("ab"), undefined);
    assert.equal(table.get("ab"), undefined);
  });

  it("an update of an unknown group changes nothing", () => {
    const state = given(created());
    const after = recorded([event("ServiceGroupUpdated", { name: "nope", members: [], at })]).reduce(routesProjection.evolve, state);
    assert.equal(after, state);
  });
});

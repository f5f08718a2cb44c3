import { describe, it } from "node:test";
import assert from "node:assert/strict";
import type { RecordedEvent } from "@eas/event-store";
import { encodeEventData, event, type EasEvent } from "@eas/events";
import { ServiceSpec } from "@eas/proto";
import { serviceViewsProjection } from "../projections/service-views.js";
import { toServiceInfo, toVersionInfos } from "./service-info.js";

const T = "2026-12-04T12:00:00.000Z";
const spec = (instance: number, keepaliveMs: number) => ServiceSpec.fromPartial({ name: "echo", instance, rpc: { keepaliveMs } });

function view(events: EasEvent[]) {
  const views = events.reduce(
    (state, e, i) =>
      serviceViewsProjection.evolve(state, {
        id: `e${i}`,
        type: e.type,
        stream: "service-echo",
        revision: i,
        position: i + 1,
        time: new Date(0),
        data: encodeEventData(e),
        metadata: {},
      } satisfies RecordedEvent),
    serviceViewsProjection.initialState(),
  );
  return views.echo!;
}

describe("ServiceInfo: replicas belong to the service, the rest of the spec to the version", () => {
  // The sequence: create (1 instance), modify to instance 2, rollback to v1, scale 3.
  const echo = view([
    event("ServiceCreated", { name: "echo", spec: spec(1, 5000), version: 1, token: "", createdAt: T, tokenSha256: "ab12" }),
    event("ServiceUpdated", { name: "echo", spec: spec(2, 6000), version: 2, updateType: "merge", updatedAt: T }),
    event("ServiceRolledBack", { name: "echo", fromVersion: 2, toVersion: 1, rolledBackAt: T }),
    event("ServiceScaled", { name: "echo", fromReplicas: 2, toReplicas: 3, cause: "user", scaledAt: T }),
  ]);

  it("desc's spec_json is the current version's spec with the scaled count, as desired_instances says", () => {
    const info = toServiceInfo(echo, "http://gw", "the-token");
    const current = JSON.parse(info.specJson) as { instance: number; rpc: { keepaliveMs: number } };
    assert.equal(info.currentVersion, 1);
    assert.equal(info.desiredInstances, 3);
    assert.equal(current.instance, 3);
    assert.equal(current.rpc.keepaliveMs, 5000, "the rest is version 1's");
    assert.equal(info.token, "the-token");
  });

  it("a rollback keeps the replica count the service had (EAS keeps the scaled count)", () => {
    const rolledBack = view([
      event("ServiceCreated", { name: "echo", spec: spec(1, 5000), version: 1, token: "", createdAt: T, tokenSha256: "ab12" }),
      event("ServiceUpdated", { name: "echo", spec: spec(2, 6000), version: 2, updateType: "merge", updatedAt: T }),
      event("ServiceRolledBack", { name: "echo", fromVersion: 2, toVersion: 1, rolledBackAt: T }),
    ]);
    const info = toServiceInfo(rolledBack, "http://gw", "");
    assert.equal(info.desiredInstances, 2);
    assert.equal((JSON.parse(info.specJson) as { instance: number }).instance, 2);
  });

  it("versions show each spec as it was submitted", () => {
    assert.deepEqual(
      toVersionInfos(echo).map((v) => [v.version, (JSON.parse(v.specJson) as { instance: number }).instance, v.current]),
      [
        [1, 1, true],
        [2, 2, false],
      ],
    );
  });

  it("a stopped service wants no instance; its spec keeps the count it runs when started", () => {
    const stopped = view([
      event("ServiceCreated", { name: "echo", spec: spec(2, 5000), version: 1, token: "", createdAt: T, tokenSha256: "ab12" }),
      event("ServiceStopped", { name: "echo", stoppedAt: T }),
    ]);
    const info = toServiceInfo(stopped, "http://gw", "");
    assert.equal(info.desiredInstances, 0);
    assert.equal((JSON.parse(info.specJson) as { instance: number }).instance, 2);
  });
});

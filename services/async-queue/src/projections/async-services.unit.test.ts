import assert from "node:assert/strict";
import { describe, it } from "node:test";
import type { RecordedEvent } from "@eas/event-store";
import { encodeEventData, event, instanceStream, serviceStream, tokenSha256, type EasEvent } from "@eas/events";
import { AsyncConfig, ServiceSpec } from "@eas/proto";
import { asyncServicesProjection, servingInstances, type AsyncServicesState } from "./async-services.js";

const at = (second: number) => new Date(Date.UTC(2026, 11, 4, 12, 0, second)).toISOString();

function recorded(events: readonly EasEvent[]): RecordedEvent[] {
  return events.map((e, index) => {
    const data = e.data as { instanceId?: string; name?: string };
    return {
      id: `e${index + 1}`,
      type: e.type,
      stream: data.instanceId ? instanceStream(data.instanceId) : serviceStream(data.name ?? ""),
      revision: 0,
      position: index + 1,
      time: new Date(at(0)),
      data: encodeEventData(e),
      metadata: {},
    };
  });
}

function given(events: readonly EasEvent[]): AsyncServicesState {
  return recorded(events).reduce(asyncServicesProjection.evolve, asyncServicesProjection.initialState());
}

const queue = AsyncConfig.fromPartial({ maxLength: 100, maxPayloadBytes: 1024, maxAttempts: 3, requestTimeoutMs: 1_000 });
const created = event("ServiceCreated", {
  name: "painter",
  spec: ServiceSpec.fromPartial({ name: "painter", instance: 2, async: queue }),
  version: 1,
  token: "",
  createdAt: at(0),
  tokenSha256: tokenSha256("t"),
});
const starting = (instanceId: string) =>
  event("InstanceStarting", { instanceId, service: "painter", nodeId: "n1", restartCount: 0, at: at(1) });
const ready = (instanceId: string, port: number) =>
  event("InstanceReady", { instanceId, service: "painter", version: 1, nodeId: "n1", endpoint: `127.0.0.1:${port}`, at: at(2) });
const lost = (instanceId: string) =>
  event("InstanceLost", { instanceId, service: "painter", nodeId: "n1", reason: "node n1 lost", at: at(3) });
const served = (state: AsyncServicesState) => servingInstances(state["painter"]!).map((i) => i.instanceId);

describe("async-services projection: the instances an async service's requests go to", () => {
  it("given Ready instances, then both take requests, with their endpoints", () => {
    const state = given([created, starting("a"), ready("a", 9001), starting("b"), ready("b", 9002)]);
    assert.deepEqual(served(state), ["a", "b"]);
    assert.deepEqual(state["painter"]?.async, queue);
  });

  it("given a Ready instance whose node is lost, then it still takes requests, as the gateway still routes to it", () => {
    assert.deepEqual(served(given([created, starting("a"), ready("a", 9001), lost("a")])), ["a"]);
  });

  it("given an instance lost before it was Ready, then it takes none (it never served)", () => {
    assert.deepEqual(served(given([created, starting("a"), lost("a")])), []);
  });
});

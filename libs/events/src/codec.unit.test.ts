import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { ServiceSpec } from "@eas/proto";
import { decodeEvent, encodeEventData, event, isKnownEventType, toNewEvent } from "./index.js";

describe("event codec", () => {
  const created = event("ServiceCreated", {
    name: "iris",
    spec: ServiceSpec.fromPartial({ name: "iris", instance: 2, resources: { cpuMillis: 1000, memoryMib: 512 } }),
    version: 1,
    token: "",
    createdAt: "2026-11-28T00:00:00.000Z",
    tokenSha256: "ab12",
  });

  it("encodes data as proto3 JSON with camelCase names", () => {
    const data = encodeEventData(created);
    assert.equal(data.name, "iris");
    assert.deepEqual((data.spec as { resources: unknown }).resources, { cpuMillis: 1000, memoryMib: 512 });
  });

  it("round-trips through toNewEvent and decodeEvent", () => {
    const stored = toNewEvent(created, "11111111-1111-4111-8111-111111111111");
    assert.equal(stored.type, "eas.v1.ServiceCreated");
    const decoded = decodeEvent(stored);
    assert.deepEqual(decoded, created);
  });

  it("returns undefined for event types it does not know", () => {
    assert.equal(decodeEvent({ type: "eas.v2.Future", data: {} }), undefined);
    assert.equal(isKnownEventType("eas.v1.toString"), false);
  });
});

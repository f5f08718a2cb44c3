import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { heartbeatSchema, heartbeatSubject, InvalidHeartbeatError } from "./heartbeat.js";

describe("heartbeatSubject", () => {
  it("is eas.telemetry.heartbeat.<nodeId>, untraced", () => {
    assert.equal(heartbeatSubject.pattern, "eas.telemetry.heartbeat.*");
    assert.equal(heartbeatSubject.with("node-1").subject, "eas.telemetry.heartbeat.node-1");
    assert.equal(heartbeatSubject.traced, false);
  });

  it("accepts a well-formed heartbeat, with or without the agent's address", () => {
    const beat = { nodeId: "n1", at: "2026-01-01T00:00:00.000Z", instances: 2 };
    assert.deepEqual(heartbeatSchema.parse(beat), beat);
    const addressed = { ...beat, agentAddress: "127.0.0.1:40001" };
    assert.deepEqual(heartbeatSchema.parse(addressed), addressed);
  });

  for (const [name, body, field] of [
    ["not an object", "hello", "body"],
    ["no node id", { at: "2026-01-01T00:00:00Z", instances: 0 }, "nodeId"],
    ["a bad time", { nodeId: "n1", at: "yesterday", instances: 0 }, "at"],
    ["a negative count", { nodeId: "n1", at: "2026-01-01T00:00:00Z", instances: -1 }, "instances"],
    ["an empty agent address", { nodeId: "n1", at: "2026-01-01T00:00:00Z", instances: 0, agentAddress: "" }, "agentAddress"],
  ] as const) {
    it(`rejects ${name}`, () => {
      assert.throws(
        () => heartbeatSchema.parse(body),
        (error: unknown) => error instanceof InvalidHeartbeatError && error.field === field,
      );
    });
  }
});

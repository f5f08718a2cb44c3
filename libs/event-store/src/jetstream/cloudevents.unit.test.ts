import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { EventStoreError } from "../errors.js";
import { decodeEvent, encodeEvent, streamOfSubject, subjectOfStream } from "./cloudevents.js";

const defaults = { time: new Date("2026-01-01T00:00:00.000Z"), source: "eas" };

describe("CloudEvents binary mode encoding", () => {
  it("round-trips an event through headers and body", () => {
    const encoded = encodeEvent(
      {
        id: "e-1",
        type: "eas.v1.InstanceReady",
        data: { instanceId: "i1", endpoint: "127.0.0.1:9000" },
        metadata: { traceparent: "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01", correlationId: "c1" },
      },
      "instance-i1",
      4,
      defaults,
    );
    assert.equal(encoded.headers.get("ce-specversion"), "1.0");
    assert.equal(encoded.headers.get("ce-time"), "2026-01-01T00:00:00.000Z");
    assert.equal(encoded.headers.get("ce-source"), "eas");
    assert.equal(encoded.headers.has("eas-causation-id"), false);
    const decoded = decodeEvent(
      { subject: "eas.events.instance.i1", seq: 42, headers: encoded.headers, data: encoded.body, storedAt: new Date() },
      "eas.events",
    );
    assert.deepEqual(decoded, {
      id: "e-1",
      type: "eas.v1.InstanceReady",
      stream: "instance-i1",
      revision: 4,
      position: 42,
      time: defaults.time,
      data: { instanceId: "i1", endpoint: "127.0.0.1:9000" },
      metadata: { source: "eas", traceparent: "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01", correlationId: "c1" },
    });
  });

  it("refuses a message without our headers instead of guessing", () => {
    assert.throws(
      () =>
        decodeEvent({ subject: "eas.events.a.b", seq: 1, headers: undefined, data: new Uint8Array(), storedAt: new Date() }, "eas.events"),
      (error: unknown) => error instanceof EventStoreError && /position 1/.test(error.message),
    );
  });

  it("maps stream names to subjects and back", () => {
    assert.equal(subjectOfStream("instance", "iris-7f-0", "eas.events"), "eas.events.instance.iris-7f-0");
    assert.equal(streamOfSubject("eas.events.instance.iris-7f-0", "eas.events"), "instance-iris-7f-0");
    assert.throws(() => streamOfSubject("other.instance.x", "eas.events"), EventStoreError);
    assert.throws(() => streamOfSubject("eas.events.a.b.c", "eas.events"), EventStoreError);
  });
});

import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { propagation, type TextMapPropagator } from "@opentelemetry/api";
import { InvalidEventError, VersionConflictError } from "../errors.js";
import { eventStoreContract } from "../testing/index.js";
import { InMemoryEventStore } from "./memory-event-store.js";

eventStoreContract("in-memory", async () => {
  const store = new InMemoryEventStore();
  return { store, cleanup: () => store.close() };
});

describe("InMemoryEventStore specifics", () => {
  it("stamps events with the injected clock and source", async () => {
    const at = new Date("2026-01-02T03:04:05.006Z");
    const store = new InMemoryEventStore({ clock: () => at, source: "eas/test" });
    await store.append("service-iris", [{ id: "e1", type: "T", data: {} }], { expectedRevision: "no_stream" });
    const [event] = await store.readStream("service-iris");
    assert.equal(event?.time.toISOString(), at.toISOString());
    assert.equal(event?.metadata.source, "eas/test");
    assert.equal(await store.headPosition(), 1);
  });

  it("hands out copies: mutating a read event does not change the log", async () => {
    const store = new InMemoryEventStore();
    await store.append("service-iris", [{ id: "e1", type: "T", data: { n: 1 } }], { expectedRevision: "no_stream" });
    const [event] = await store.readStream("service-iris");
    (event!.data as { n: number }).n = 2;
    assert.deepEqual((await store.readStream("service-iris"))[0]?.data, { n: 1 });
  });

  it("treats an id reused with another expectation as a conflict, and in another stream as invalid", async () => {
    const store = new InMemoryEventStore();
    await store.append("service-a", [{ id: "e1", type: "T", data: {} }], { expectedRevision: "no_stream" });
    await assert.rejects(store.append("service-a", [{ id: "e1", type: "T", data: {} }], { expectedRevision: 0 }), VersionConflictError);
    await assert.rejects(
      store.append("service-b", [{ id: "e1", type: "T", data: {} }], { expectedRevision: "no_stream" }),
      InvalidEventError,
    );
  });

  it("completes a half-applied batch on retry (same ids)", async () => {
    const store = new InMemoryEventStore();
    // Simulates what a crashed JetStream writer leaves behind: the first event of a batch only.
    await store.append("node-n1", [{ id: "a", type: "T", data: {} }], { expectedRevision: "no_stream" });
    const result = await store.append(
      "node-n1",
      [
        { id: "a", type: "T", data: {} },
        { id: "b", type: "T", data: {} },
      ],
      { expectedRevision: "no_stream" },
    );
    assert.deepEqual(result, { nextExpectedRevision: 1, position: 2 });
    assert.deepEqual(
      (await store.readStream("node-n1")).map((e) => e.id),
      ["a", "b"],
    );
  });

  it("records the active trace context when the event carries none", async () => {
    const traceparent = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";
    const fixed: TextMapPropagator = {
      inject: (_context, carrier, setter) => {
        setter.set(carrier, "traceparent", traceparent);
        setter.set(carrier, "tracestate", "k=v");
      },
      extract: (context) => context,
      fields: () => ["traceparent", "tracestate"],
    };
    propagation.setGlobalPropagator(fixed);
    try {
      const store = new InMemoryEventStore();
      const explicit = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01";
      await store.append(
        "service-iris",
        [
          { id: "e1", type: "T", data: {} },
          { id: "e2", type: "T", data: {}, metadata: { traceparent: explicit } },
        ],
        { expectedRevision: "no_stream" },
      );
      const [implicit, given] = await store.readStream("service-iris");
      assert.deepEqual(implicit?.metadata, { source: "eas", traceparent, tracestate: "k=v" });
      assert.equal(given?.metadata.traceparent, explicit);
    } finally {
      propagation.disable();
    }
  });

  it("rejects operations after close and closes open subscriptions", async () => {
    const store = new InMemoryEventStore();
    const subscription = store.subscribeToAll();
    const iteration = (async () => {
      const seen = [];
      for await (const event of subscription) seen.push(event);
      return seen.length;
    })();
    await store.close();
    assert.equal(await iteration, 0);
    await assert.rejects(store.headPosition(), /closed/);
  });
});

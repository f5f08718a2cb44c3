import assert from "node:assert/strict";
import { VersionConflictError } from "../errors.js";
import {
  assertStrictlyIncreasing,
  newCategory,
  newEvent,
  range,
  rejection,
  streamOf,
  withTimeout,
  type ContractContext,
} from "./contract-support.js";

/** The contract's appends: expected revisions, idempotent retries, concurrent writers. */
export function appendCases({ it, withStore, timeoutMs }: ContractContext): void {
  it("appends to a new stream with no_stream and reads the event back", async () => {
    await withStore(async (store) => {
      const stream = streamOf(newCategory());
      const head = await store.headPosition();
      const event = newEvent("eas.v1.ServiceCreated", { name: "iris", version: 1 });
      const result = await store.append(stream, [event], { expectedRevision: "no_stream" });
      assert.equal(result.nextExpectedRevision, 0);
      assert.ok(result.position > head, `position ${result.position} must be after the head ${head}`);
      const [read, ...rest] = await store.readStream(stream);
      assert.equal(rest.length, 0);
      assert.ok(read);
      assert.equal(read.id, event.id);
      assert.equal(read.type, "eas.v1.ServiceCreated");
      assert.equal(read.stream, stream);
      assert.equal(read.revision, 0);
      assert.equal(read.position, result.position);
      assert.deepEqual(read.data, { name: "iris", version: 1 });
    });
  });

  it("appends with the correct expected revision and numbers revisions from 0", async () => {
    await withStore(async (store) => {
      const stream = streamOf(newCategory());
      let result = await store.append(stream, [newEvent("A"), newEvent("B")], { expectedRevision: "no_stream" });
      assert.equal(result.nextExpectedRevision, 1);
      result = await store.append(stream, [newEvent("C")], { expectedRevision: result.nextExpectedRevision });
      assert.equal(result.nextExpectedRevision, 2);
      result = await store.append(stream, [newEvent("D"), newEvent("E"), newEvent("F")], { expectedRevision: 2 });
      assert.equal(result.nextExpectedRevision, 5);
      const events = await store.readStream(stream);
      assert.deepEqual(
        events.map((e) => [e.type, e.revision]),
        [
          ["A", 0],
          ["B", 1],
          ["C", 2],
          ["D", 3],
          ["E", 4],
          ["F", 5],
        ],
      );
      assertStrictlyIncreasing(events.map((e) => e.position));
      assert.equal(events.at(-1)?.position, result.position);
    });
  });

  it("rejects a wrong expected revision with a typed VersionConflictError and writes nothing", async () => {
    await withStore(async (store) => {
      const stream = streamOf(newCategory());
      await store.append(stream, [newEvent("A"), newEvent("B")], { expectedRevision: "no_stream" });
      for (const wrong of [0, 2, 7]) {
        const error = await rejection(store.append(stream, [newEvent("X")], { expectedRevision: wrong }));
        assert.ok(error instanceof VersionConflictError, `expected VersionConflictError, got ${String(error)}`);
        assert.equal(error.name, "VersionConflictError");
        assert.equal(error.stream, stream);
        assert.equal(error.expected, String(wrong));
        assert.equal(error.actual, "1");
        assert.equal(error.retryable, false);
      }
      assert.deepEqual(
        (await store.readStream(stream)).map((e) => e.type),
        ["A", "B"],
      );
    });
  });

  it("rejects no_stream when the stream exists", async () => {
    await withStore(async (store) => {
      const stream = streamOf(newCategory());
      await store.append(stream, [newEvent("A")], { expectedRevision: "no_stream" });
      const error = await rejection(store.append(stream, [newEvent("B")], { expectedRevision: "no_stream" }));
      assert.ok(error instanceof VersionConflictError, String(error));
      assert.equal(error.expected, "no_stream");
      assert.equal(error.actual, "0");
      assert.equal((await store.readStream(stream)).length, 1);
    });
  });

  it("rejects stream_exists on a missing stream and accepts it on an existing one", async () => {
    await withStore(async (store) => {
      const stream = streamOf(newCategory());
      const error = await rejection(store.append(stream, [newEvent("A")], { expectedRevision: "stream_exists" }));
      assert.ok(error instanceof VersionConflictError, String(error));
      assert.equal(error.expected, "stream_exists");
      assert.equal(error.actual, "no_stream");
      assert.deepEqual(await store.readStream(stream), []);
      await store.append(stream, [newEvent("A")], { expectedRevision: "no_stream" });
      const result = await store.append(stream, [newEvent("B")], { expectedRevision: "stream_exists" });
      assert.equal(result.nextExpectedRevision, 1);
    });
  });

  it("appends with any to missing and existing streams", async () => {
    await withStore(async (store) => {
      const stream = streamOf(newCategory());
      assert.equal((await store.append(stream, [newEvent("A")], { expectedRevision: "any" })).nextExpectedRevision, 0);
      assert.equal((await store.append(stream, [newEvent("B"), newEvent("C")], { expectedRevision: "any" })).nextExpectedRevision, 2);
      assert.deepEqual(
        (await store.readStream(stream)).map((e) => e.revision),
        [0, 1, 2],
      );
    });
  });

  it("lets concurrent appends with any all succeed, each at its own revision", async () => {
    await withStore(async (store) => {
      const stream = streamOf(newCategory());
      const results = await withTimeout(
        Promise.all(range(6).map((i) => store.append(stream, [newEvent(`Any${i}`), newEvent(`Any${i}b`)], { expectedRevision: "any" }))),
        timeoutMs,
        "concurrent any appends",
      );
      assert.deepEqual(
        results.map((r) => r.nextExpectedRevision).sort((a, b) => a - b),
        [1, 3, 5, 7, 9, 11],
      );
      const events = await store.readStream(stream);
      assert.deepEqual(
        events.map((e) => e.revision),
        range(12),
      );
      // Each batch stays contiguous: nothing interleaves with a batch being written.
      for (let i = 0; i < 12; i += 2) assert.equal(events[i + 1]!.type, `${events[i]!.type}b`);
    });
  });

  it("treats a retry of a single-event append (same id, same expectation) as success with the same result", async () => {
    await withStore(async (store) => {
      const stream = streamOf(newCategory());
      const event = newEvent("A");
      const first = await store.append(stream, [event], { expectedRevision: "no_stream" });
      const retry = await store.append(stream, [event], { expectedRevision: "no_stream" });
      assert.deepEqual(retry, first);
      const second = newEvent("B");
      const next = await store.append(stream, [second], { expectedRevision: 0 });
      assert.deepEqual(await store.append(stream, [second], { expectedRevision: 0 }), next);
      // A late retry, after the stream moved on, still reports the original outcome.
      assert.deepEqual(await store.append(stream, [event], { expectedRevision: "no_stream" }), first);
      const events = await store.readStream(stream);
      assert.deepEqual(
        events.map((e) => e.id),
        [event.id, second.id],
      );
    });
  });

  it("treats a retry of a multi-event append as success with the same result and no duplicates", async () => {
    await withStore(async (store) => {
      const stream = streamOf(newCategory());
      await store.append(stream, [newEvent("A")], { expectedRevision: "no_stream" });
      const batch = [newEvent("B"), newEvent("C"), newEvent("D")];
      const first = await store.append(stream, batch, { expectedRevision: 0 });
      assert.deepEqual(first.nextExpectedRevision, 3);
      const retry = await store.append(stream, batch, { expectedRevision: 0 });
      assert.deepEqual(retry, first);
      const events = await store.readStream(stream);
      assert.deepEqual(
        events.map((e) => e.type),
        ["A", "B", "C", "D"],
      );
      assert.equal(new Set(events.map((e) => e.id)).size, 4);
    });
  });

  it("does not take an id stored at another revision for a retry: that is a conflict", async () => {
    await withStore(async (store) => {
      const stream = streamOf(newCategory());
      const first = newEvent("A");
      const second = newEvent("B");
      await store.append(stream, [first], { expectedRevision: "no_stream" });
      await store.append(stream, [second], { expectedRevision: 0 });
      for (const expectedRevision of ["no_stream", 5] as const) {
        const error = await rejection(store.append(stream, [second], { expectedRevision }));
        assert.ok(error instanceof VersionConflictError, `${expectedRevision}: ${String(error)}`);
        assert.equal(error.actual, "1");
      }
      assert.deepEqual(
        (await store.readStream(stream)).map((e) => e.id),
        [first.id, second.id],
      );
    });
  });

  it("lets exactly one of several concurrent appends with the same expected revision win", async () => {
    await withStore(async (store) => {
      const stream = streamOf(newCategory());
      const contenders = 6;
      for (let revision = -1; revision < 3; revision++) {
        const expectedRevision = revision === -1 ? ("no_stream" as const) : revision;
        const outcomes = await withTimeout(
          Promise.allSettled(range(contenders).map((i) => store.append(stream, [newEvent(`W${revision + 1}-${i}`)], { expectedRevision }))),
          timeoutMs,
          "concurrent appends",
        );
        const winners = outcomes.filter((o) => o.status === "fulfilled");
        const losers = outcomes.filter((o): o is PromiseRejectedResult => o.status === "rejected");
        assert.equal(winners.length, 1, `revision ${revision + 1}: ${winners.length} winners`);
        for (const loser of losers) assert.ok(loser.reason instanceof VersionConflictError, String(loser.reason));
      }
      const events = await store.readStream(stream);
      assert.deepEqual(
        events.map((e) => e.revision),
        [0, 1, 2, 3],
      );
      assert.deepEqual(
        events.map((e) => e.type.split("-")[0]),
        ["W0", "W1", "W2", "W3"],
      );
    });
  });
}

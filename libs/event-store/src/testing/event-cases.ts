import assert from "node:assert/strict";
import { randomUUID } from "node:crypto";
import { InvalidEventError } from "../errors.js";
import type { EventMetadata, JsonObject } from "../types.js";
import { collect, collectAll, newCategory, newEvent, rejection, streamOf, type ContractContext } from "./contract-support.js";

/** The contract's events themselves: metadata, time and data round-trip; invalid names and arguments are refused. */
export function eventCases({ it, withStore, timeoutMs }: ContractContext): void {
  it("round-trips metadata (traceparent, tracestate, source, correlation and causation ids)", async () => {
    await withStore(async (store) => {
      const category = newCategory();
      const stream = streamOf(category);
      const start = await store.headPosition();
      const metadata: EventMetadata = {
        traceparent: "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01",
        tracestate: "congo=t61rcWkgMzE,rojo=00f067aa0ba902b7",
        source: "eas/deployer",
        correlationId: randomUUID(),
        causationId: randomUUID(),
      };
      await store.append(stream, [newEvent("WithMetadata", {}, { metadata }), newEvent("Without")], {
        expectedRevision: "no_stream",
      });
      const [withMetadata, without] = await store.readStream(stream);
      assert.deepEqual(withMetadata?.metadata, metadata);
      assert.equal(typeof without?.metadata.source, "string", "adapters record a default source");
      assert.equal(without?.metadata.traceparent, undefined);
      assert.equal(without?.metadata.correlationId, undefined);
      const [fromAll] = (await collectAll(store.readAll({ afterPosition: start }))).filter((e) => e.stream === stream);
      assert.deepEqual(fromAll?.metadata, metadata);
      const subscription = store.subscribeToAll({ afterPosition: start, category });
      try {
        const [fromSubscription] = await collect(subscription, 1, timeoutMs);
        assert.deepEqual(fromSubscription?.metadata, metadata);
      } finally {
        await subscription.close();
      }
    });
  });

  it("round-trips the event time and defaults it to the time of the append", async () => {
    await withStore(async (store) => {
      const stream = streamOf(newCategory());
      const time = new Date("2026-03-04T05:06:07.089Z");
      const before = Date.now();
      await store.append(stream, [newEvent("Timed", {}, { time }), newEvent("Untimed")], { expectedRevision: "no_stream" });
      const after = Date.now();
      const [timed, untimed] = await store.readStream(stream);
      assert.ok(timed?.time instanceof Date);
      assert.equal(timed.time.toISOString(), time.toISOString());
      assert.ok(untimed?.time instanceof Date);
      const untimedAt = untimed.time.getTime();
      assert.ok(untimedAt >= before - 1_000 && untimedAt <= after + 1_000, `default time ${untimed.time.toISOString()}`);
    });
  });

  it("round-trips JSON data exactly", async () => {
    await withStore(async (store) => {
      const stream = streamOf(newCategory());
      const data: JsonObject = {
        name: "iris-ß-模型-🚀",
        nested: { list: [1, 2.5, -3, 0], empty: {}, flag: true, none: null },
        spec: { resources: { cpuMillis: 1000, memoryMib: 2048 }, labels: { "team.a/b": "x" } },
        big: 9007199254740991,
      };
      await store.append(stream, [newEvent("Data", data)], { expectedRevision: "no_stream" });
      const [read] = await store.readStream(stream);
      assert.deepEqual(read?.data, data);
    });
  });

  it("rejects invalid stream names, categories and arguments with InvalidEventError", async () => {
    await withStore(async (store) => {
      const invalid = ["", "nodash", "-id", "category-", "a.b-c", "a-b.c", "a-b c", "a*-b", "a-b>", "a-é", "$all-x", "a-b\nc"];
      for (const stream of invalid) {
        const error = await rejection(store.append(stream, [newEvent("A")], { expectedRevision: "any" }));
        assert.ok(error instanceof InvalidEventError, `append to ${JSON.stringify(stream)}: ${String(error)}`);
        assert.ok((await rejection(store.readStream(stream))) instanceof InvalidEventError, `read ${JSON.stringify(stream)}`);
      }
      assert.throws(() => store.subscribeToAll({ category: "a.b" }), InvalidEventError);
      assert.throws(() => store.subscribeToAll({ category: ">" }), InvalidEventError);
      const stream = streamOf(newCategory());
      const cases: [string, Promise<unknown>][] = [
        ["empty batch", store.append(stream, [], { expectedRevision: "any" })],
        ["negative revision", store.append(stream, [newEvent("A")], { expectedRevision: -1 })],
        ["fractional revision", store.append(stream, [newEvent("A")], { expectedRevision: 1.5 })],
        [
          "same id twice",
          (() => {
            const event = newEvent("A");
            return store.append(stream, [event, { ...event }], { expectedRevision: "any" });
          })(),
        ],
        ["array data", store.append(stream, [{ ...newEvent("A"), data: [] as unknown as JsonObject }], { expectedRevision: "any" })],
        [
          "line break in metadata",
          store.append(stream, [newEvent("A", {}, { metadata: { traceparent: "a\r\nb" } })], { expectedRevision: "any" }),
        ],
      ];
      for (const [label, attempt] of cases) {
        assert.ok((await rejection(attempt)) instanceof InvalidEventError, label);
      }
      assert.deepEqual(await store.readStream(stream), []);
    });
  });
}

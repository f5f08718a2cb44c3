import assert from "node:assert/strict";
import { randomBytes, randomUUID } from "node:crypto";
import { describe, it as nodeIt } from "node:test";
import { InvalidEventError, VersionConflictError } from "../errors.js";
import type { EventMetadata, EventStore, JsonObject, NewEvent, RecordedEvent, Subscription } from "../types.js";

/** What the contract needs from an adapter for one test case: a store, and a way to dispose of it. */
export interface ContractFixture {
  store: EventStore;
  /** Closes the store and removes whatever the case wrote where that is possible. */
  cleanup(): Promise<void>;
}

/** Options of the contract suite. */
export interface ContractOptions {
  /** Upper bound for every wait on the store (subscriptions, concurrent writers); default 20 s. */
  timeoutMs?: number;
  /** Passed to `describe`, e.g. `{ skip: "no server" }`. */
  skip?: string | boolean;
}

/**
 * The EventStore contract: one node:test suite that every adapter must pass.
 *
 * Each case asks `factory` for a fresh fixture and cleans it up afterwards. Cases do not assume an empty
 * log: they write to streams of a category unique to the case and read the log after the head position
 * they found, so adapters whose backend is shared between cases (KurrentDB) can run the suite too.
 */
export function eventStoreContract(name: string, factory: () => Promise<ContractFixture>, options: ContractOptions = {}): void {
  const timeoutMs = options.timeoutMs ?? 20_000;
  // Skipping each case (not the suite) makes the runner count every skipped case, with the reason.
  const caseOptions = options.skip === undefined ? {} : { skip: options.skip };
  const it = (title: string, body: () => Promise<void>): void => {
    nodeIt(title, caseOptions, body);
  };

  async function withStore(body: (store: EventStore) => Promise<void>): Promise<void> {
    const fixture = await factory();
    try {
      await body(fixture.store);
    } finally {
      await fixture.cleanup();
    }
  }

  describe(`EventStore contract: ${name}`, () => {
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

    it("reads a stream from a revision and at most maxCount events", async () => {
      await withStore(async (store) => {
        const stream = streamOf(newCategory());
        await store.append(
          stream,
          range(10).map((i) => newEvent(`E${i}`)),
          { expectedRevision: "no_stream" },
        );
        assert.deepEqual(
          (await store.readStream(stream, { fromRevision: 7 })).map((e) => e.revision),
          [7, 8, 9],
        );
        assert.deepEqual(
          (await store.readStream(stream, { maxCount: 2 })).map((e) => e.revision),
          [0, 1],
        );
        assert.deepEqual(
          (await store.readStream(stream, { fromRevision: 4, maxCount: 3 })).map((e) => e.revision),
          [4, 5, 6],
        );
        assert.deepEqual(
          (await store.readStream(stream, { fromRevision: 9 })).map((e) => e.type),
          ["E9"],
        );
        assert.deepEqual(await store.readStream(stream, { fromRevision: 10 }), []);
        assert.deepEqual(await store.readStream(stream, { maxCount: 0 }), []);
      });
    });

    it("reads a missing stream as []", async () => {
      await withStore(async (store) => {
        assert.deepEqual(await store.readStream(streamOf(newCategory())), []);
        assert.deepEqual(await store.readStream(streamOf(newCategory()), { fromRevision: 3, maxCount: 2 }), []);
      });
    });

    it("reads all events across streams in position order", async () => {
      await withStore(async (store) => {
        const category = newCategory();
        const streams = range(3).map(() => streamOf(category));
        const start = await store.headPosition();
        const written: string[] = [];
        for (let round = 0; round < 3; round++) {
          for (const stream of streams) {
            const event = newEvent(`R${round}`);
            written.push(event.id);
            await store.append(stream, [event], { expectedRevision: round === 0 ? "no_stream" : round - 1 });
          }
        }
        const read = await collectAll(store.readAll({ afterPosition: start }));
        const ours = read.filter((e) => e.stream.startsWith(`${category}-`));
        assert.deepEqual(
          ours.map((e) => e.id),
          written,
        );
        assertStrictlyIncreasing(read.map((e) => e.position));
        assert.ok(read.every((e) => e.position > start));
        assert.equal(read.at(-1)?.position, await store.headPosition());
      });
    });

    it("reads all after a position, at most maxCount events", async () => {
      await withStore(async (store) => {
        const stream = streamOf(newCategory());
        const start = await store.headPosition();
        const results = [];
        for (let i = 0; i < 6; i++) {
          results.push(await store.append(stream, [newEvent(`E${i}`)], { expectedRevision: i === 0 ? "no_stream" : i - 1 }));
        }
        const checkpoint = results[2]!.position;
        const after = await collectAll(store.readAll({ afterPosition: checkpoint }));
        assert.deepEqual(
          after.map((e) => e.type),
          ["E3", "E4", "E5"],
        );
        const limited = await collectAll(store.readAll({ afterPosition: start, maxCount: 2 }));
        assert.deepEqual(
          limited.map((e) => e.type),
          ["E0", "E1"],
        );
        assert.deepEqual(await collectAll(store.readAll({ afterPosition: results[5]!.position })), []);
      });
    });

    it("reports the head position: the position of the last appended event", async () => {
      await withStore(async (store) => {
        const stream = streamOf(newCategory());
        const before = await store.headPosition();
        assert.ok(Number.isSafeInteger(before) && before >= 0);
        const first = await store.append(stream, [newEvent("A"), newEvent("B")], { expectedRevision: "no_stream" });
        assert.equal(await store.headPosition(), first.position);
        const second = await store.append(stream, [newEvent("C")], { expectedRevision: 1 });
        assert.ok(second.position > first.position);
        assert.equal(await store.headPosition(), second.position);
      });
    });

    it("subscribes with catch-up then live under concurrent writers: every event once, in order, no gap", async () => {
      await withStore(async (store) => {
        const category = newCategory();
        const start = await store.headPosition();
        const expected = new Set<string>();
        const preStreams = range(3).map(() => streamOf(category));
        for (const stream of preStreams) {
          const batch = range(5).map((i) => newEvent(`Pre${i}`));
          batch.forEach((e) => expected.add(e.id));
          await store.append(stream, batch, { expectedRevision: "no_stream" });
        }
        const writers = 4;
        const perWriter = 10;
        const total = expected.size + writers * perWriter;
        const subscription = store.subscribeToAll({ afterPosition: start, category });
        try {
          const received = collect(subscription, total, timeoutMs);
          const writing = Promise.all(
            range(writers).map(async () => {
              const stream = streamOf(category);
              for (let i = 0; i < perWriter; i++) {
                const event = newEvent(`Live${i}`);
                expected.add(event.id);
                await store.append(stream, [event], { expectedRevision: i === 0 ? "no_stream" : i - 1 });
                if (i % 3 === 0) await new Promise((resolve) => setTimeout(resolve, 1));
              }
            }),
          );
          await withTimeout(writing, timeoutMs, "concurrent writers");
          const events = await received;
          assert.equal(events.length, total);
          assert.equal(new Set(events.map((e) => e.id)).size, total, "an event was delivered twice");
          assert.deepEqual(new Set(events.map((e) => e.id)), expected);
          assertStrictlyIncreasing(events.map((e) => e.position));
          assertContiguousRevisions(events);
          await withTimeout(subscription.caughtUp, timeoutMs, "caughtUp");
        } finally {
          await subscription.close();
        }
      });
    });

    it("resumes a subscription from a checkpoint position", async () => {
      await withStore(async (store) => {
        const category = newCategory();
        const stream = streamOf(category);
        const results = [];
        for (let i = 0; i < 5; i++) {
          results.push(await store.append(stream, [newEvent(`E${i}`)], { expectedRevision: i === 0 ? "no_stream" : i - 1 }));
        }
        const subscription = store.subscribeToAll({ afterPosition: results[1]!.position, category });
        try {
          const received = collect(subscription, 4, timeoutMs);
          await store.append(stream, [newEvent("E5")], { expectedRevision: 4 });
          const events = await received;
          assert.deepEqual(
            events.map((e) => e.type),
            ["E2", "E3", "E4", "E5"],
          );
          assert.equal(events[0]!.position, results[2]!.position);
        } finally {
          await subscription.close();
        }
      });
    });

    it("filters a subscription by category", async () => {
      await withStore(async (store) => {
        const wanted = newCategory();
        const other = newCategory();
        const start = await store.headPosition();
        await store.append(streamOf(other), [newEvent("Other0")], { expectedRevision: "no_stream" });
        await store.append(streamOf(wanted), [newEvent("Wanted0")], { expectedRevision: "no_stream" });
        const subscription = store.subscribeToAll({ afterPosition: start, category: wanted });
        try {
          const received = collect(subscription, 3, timeoutMs);
          await store.append(streamOf(other), [newEvent("Other1")], { expectedRevision: "no_stream" });
          await store.append(streamOf(wanted), [newEvent("Wanted1")], { expectedRevision: "no_stream" });
          await store.append(streamOf(other), [newEvent("Other2")], { expectedRevision: "no_stream" });
          await store.append(streamOf(wanted), [newEvent("Wanted2")], { expectedRevision: "no_stream" });
          const events = await received;
          assert.deepEqual(
            events.map((e) => e.type),
            ["Wanted0", "Wanted1", "Wanted2"],
          );
          assert.ok(events.every((e) => e.stream.startsWith(`${wanted}-`)));
        } finally {
          await subscription.close();
        }
      });
    });

    it("resolves caughtUp once the events that existed at the start were delivered", async () => {
      await withStore(async (store) => {
        const category = newCategory();
        const start = await store.headPosition();
        const stream = streamOf(category);
        await store.append(
          stream,
          range(4).map((i) => newEvent(`E${i}`)),
          { expectedRevision: "no_stream" },
        );
        const subscription = store.subscribeToAll({ afterPosition: start, category });
        try {
          const seen: RecordedEvent[] = [];
          let seenWhenCaughtUp = -1;
          const caughtUp = subscription.caughtUp.then(() => {
            seenWhenCaughtUp = seen.length;
          });
          const consuming = (async () => {
            for await (const event of subscription) {
              seen.push(event);
              if (seen.length === 5) return;
            }
          })();
          await withTimeout(caughtUp, timeoutMs, "caughtUp");
          assert.equal(seenWhenCaughtUp, 4, "caughtUp must follow the delivery of the 4 existing events");
          await store.append(stream, [newEvent("Live")], { expectedRevision: 3 });
          await withTimeout(consuming, timeoutMs, "the live event");
          assert.deepEqual(
            seen.map((e) => e.type),
            ["E0", "E1", "E2", "E3", "Live"],
          );
        } finally {
          await subscription.close();
        }
      });
    });

    it("resolves caughtUp at once when nothing matches yet, then delivers live events", async () => {
      await withStore(async (store) => {
        const category = newCategory();
        const head = await store.headPosition();
        const subscription = store.subscribeToAll({ afterPosition: head, category });
        try {
          await withTimeout(subscription.caughtUp, timeoutMs, "caughtUp on an empty category");
          const received = collect(subscription, 1, timeoutMs);
          await store.append(streamOf(category), [newEvent("Live")], { expectedRevision: "no_stream" });
          assert.deepEqual(
            (await received).map((e) => e.type),
            ["Live"],
          );
        } finally {
          await subscription.close();
        }
      });
    });

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

    it("ends the iteration when a subscription is closed", async () => {
      await withStore(async (store) => {
        const category = newCategory();
        const stream = streamOf(category);
        const head = await store.headPosition();
        await store.append(stream, [newEvent("A")], { expectedRevision: "no_stream" });
        const subscription = store.subscribeToAll({ afterPosition: head, category });
        const seen: string[] = [];
        const iteration = (async () => {
          for await (const event of subscription) seen.push(event.type);
          return "ended";
        })();
        await waitUntil(() => seen.length === 1, timeoutMs, "the first event");
        // The iterator is now waiting for live events; close must release it.
        await withTimeout(subscription.close(), timeoutMs, "close");
        assert.equal(await withTimeout(iteration, timeoutMs, "the end of the iteration"), "ended");
        await store.append(stream, [newEvent("B")], { expectedRevision: 0 });
        assert.deepEqual(seen, ["A"]);
        await subscription.close();
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

    it("lets exactly one of several concurrent appends with the same expected revision win", async () => {
      await withStore(async (store) => {
        const stream = streamOf(newCategory());
        const contenders = 6;
        for (let revision = -1; revision < 3; revision++) {
          const expectedRevision = revision === -1 ? ("no_stream" as const) : revision;
          const outcomes = await withTimeout(
            Promise.allSettled(
              range(contenders).map((i) => store.append(stream, [newEvent(`W${revision + 1}-${i}`)], { expectedRevision })),
            ),
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
  });
}

/** A category no other case or run uses, so cases can share a backend. */
function newCategory(): string {
  return `c${randomBytes(5).toString("hex")}`;
}

function streamOf(category: string): string {
  return `${category}-${randomBytes(6).toString("hex")}`;
}

function newEvent(type: string, data: JsonObject = {}, extra: Partial<NewEvent> = {}): NewEvent {
  return { id: randomUUID(), type, data, ...extra };
}

function range(n: number): number[] {
  return Array.from({ length: n }, (_, i) => i);
}

async function rejection(promise: Promise<unknown>): Promise<unknown> {
  try {
    await promise;
  } catch (error) {
    return error;
  }
  assert.fail("expected the operation to fail");
}

async function collectAll(iterable: AsyncIterable<RecordedEvent>): Promise<RecordedEvent[]> {
  const events: RecordedEvent[] = [];
  for await (const event of iterable) events.push(event);
  return events;
}

/** Takes `count` events from a subscription, failing after `timeoutMs`. */
async function collect(subscription: Subscription, count: number, timeoutMs: number): Promise<RecordedEvent[]> {
  const events: RecordedEvent[] = [];
  const taking = (async () => {
    for await (const event of subscription) {
      events.push(event);
      if (events.length >= count) return;
    }
  })();
  await withTimeout(taking, timeoutMs, `${count} events (got ${events.length})`, () => `${count} events (got ${events.length})`);
  return events;
}

async function withTimeout<T>(promise: Promise<T>, ms: number, what: string, describeLater?: () => string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms waiting for ${describeLater?.() ?? what}`)), ms);
  });
  try {
    return await Promise.race([promise, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

async function waitUntil(condition: () => boolean, ms: number, what: string): Promise<void> {
  const deadline = Date.now() + ms;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out after ${ms} ms waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}

function assertStrictlyIncreasing(values: number[]): void {
  for (let i = 1; i < values.length; i++) {
    assert.ok(values[i]! > values[i - 1]!, `positions must increase strictly: ${values[i - 1]} then ${values[i]}`);
  }
}

function assertContiguousRevisions(events: RecordedEvent[]): void {
  const next = new Map<string, number>();
  for (const event of events) {
    const expected = next.get(event.stream) ?? 0;
    assert.equal(event.revision, expected, `${event.stream}: revision ${event.revision} after ${expected - 1}`);
    next.set(event.stream, expected + 1);
  }
}

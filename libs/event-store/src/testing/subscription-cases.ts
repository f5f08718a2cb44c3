import assert from "node:assert/strict";
import type { RecordedEvent } from "../types.js";
import {
  assertContiguousRevisions,
  assertStrictlyIncreasing,
  collect,
  newCategory,
  newEvent,
  range,
  streamOf,
  waitUntil,
  withTimeout,
  type ContractContext,
} from "./contract-support.js";

/** The contract's catch-up subscriptions: catch-up then live, checkpoints, category filters, caughtUp, close. */
export function subscriptionCases({ it, withStore, timeoutMs }: ContractContext): void {
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
}

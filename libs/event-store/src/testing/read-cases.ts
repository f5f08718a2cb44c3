import assert from "node:assert/strict";
import { assertStrictlyIncreasing, collectAll, newCategory, newEvent, range, streamOf, type ContractContext } from "./contract-support.js";

/** The contract's reads: one stream, the whole log, the head position. */
export function readCases({ it, withStore }: ContractContext): void {
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
}

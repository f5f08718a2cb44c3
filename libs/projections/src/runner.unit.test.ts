import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { randomUUID } from "node:crypto";
import { InMemoryEventStore, type EventStore, type RecordedEvent } from "@eas/event-store";
import { createProjectionRunner, InMemoryCheckpointStore, ProjectionLagError, type Projection } from "./index.js";

/** Counts events per stream and sums their `n`; only the "counter" category. */
const counter: Projection<Record<string, number>> = {
  name: "counter",
  version: 1,
  categories: ["counter"],
  initialState: () => ({}),
  evolve: (state, e: RecordedEvent) => ({ ...state, [e.stream]: (state[e.stream] ?? 0) + Number(e.data.n ?? 1) }),
};

async function appendMany(store: EventStore, stream: string, count: number): Promise<number> {
  let position = 0;
  for (let i = 0; i < count; i++) {
    const result = await store.append(stream, [{ id: randomUUID(), type: "test.Counted", data: { n: 1 } }], { expectedRevision: "any" });
    position = result.position;
  }
  return position;
}

describe("projection runner", () => {
  it("catches up with what is stored, then follows live events", async () => {
    const store = new InMemoryEventStore();
    await appendMany(store, "counter-a", 3);
    const runner = createProjectionRunner({ store, projection: counter });
    await runner.start();
    await runner.caughtUp;
    assert.equal(runner.isCaughtUp(), true);
    assert.deepEqual(runner.state, { "counter-a": 3 });
    const position = await appendMany(store, "counter-b", 2);
    await runner.waitForPosition(position);
    assert.deepEqual(runner.state, { "counter-a": 3, "counter-b": 2 });
    await runner.stop();
  });

  it("skips other categories but still advances its position", async () => {
    const store = new InMemoryEventStore();
    await appendMany(store, "counter-a", 1);
    const last = await appendMany(store, "other-x", 2);
    const runner = createProjectionRunner({ store, projection: counter });
    await runner.start();
    await runner.caughtUp;
    assert.equal(runner.position, last);
    assert.deepEqual(runner.state, { "counter-a": 1 });
    await runner.stop();
  });

  it("is caught up at once on an empty log", async () => {
    const runner = createProjectionRunner({ store: new InMemoryEventStore(), projection: counter });
    await runner.start();
    await runner.caughtUp;
    assert.deepEqual(runner.state, {});
    await runner.stop();
  });

  it("resumes from its checkpoint without replaying what it already applied", async () => {
    const store = new InMemoryEventStore();
    const checkpoints = new InMemoryCheckpointStore();
    await appendMany(store, "counter-a", 4);
    const first = createProjectionRunner({ store, projection: counter, checkpoints });
    await first.start();
    await first.caughtUp;
    await first.stop();
    const saved = await checkpoints.load("counter");
    assert.equal(saved?.position, 4);

    await appendMany(store, "counter-a", 1);
    let applied = 0;
    const second = createProjectionRunner({ store, projection: counter, checkpoints, onEvent: () => applied++ });
    await second.start();
    await second.caughtUp;
    assert.equal(applied, 1, "only the event after the checkpoint is replayed");
    assert.deepEqual(second.state, { "counter-a": 5 });
    await second.stop();
  });

  it("ignores a checkpoint written by another projection version", async () => {
    const store = new InMemoryEventStore();
    const checkpoints = new InMemoryCheckpointStore();
    await appendMany(store, "counter-a", 2);
    await checkpoints.save("counter", { position: 2, version: 0, snapshot: { "counter-a": 99 } });
    const runner = createProjectionRunner({ store, projection: counter, checkpoints });
    await runner.start();
    await runner.caughtUp;
    assert.deepEqual(runner.state, { "counter-a": 2 });
    await runner.stop();
  });

  it("rebuilds from zero", async () => {
    const store = new InMemoryEventStore();
    const checkpoints = new InMemoryCheckpointStore();
    await appendMany(store, "counter-a", 3);
    const runner = createProjectionRunner({ store, projection: counter, checkpoints });
    await runner.start();
    await runner.caughtUp;
    await runner.rebuild();
    await runner.caughtUp;
    assert.deepEqual(runner.state, { "counter-a": 3 });
    assert.equal(runner.status().eventsApplied, 3);
    await runner.stop();
  });

  it("keeps following the log when saving a checkpoint fails", async () => {
    const store = new InMemoryEventStore();
    const failing = new InMemoryCheckpointStore();
    failing.save = async () => {
      throw new Error("KV unavailable");
    };
    const errors: unknown[] = [];
    const runner = createProjectionRunner({
      store,
      projection: counter,
      checkpoints: failing,
      checkpointEvery: 1,
      onError: (e) => errors.push(e),
    });
    await runner.start();
    await runner.caughtUp;
    const position = await appendMany(store, "counter-a", 3);
    await runner.waitForPosition(position, 2_000);
    assert.deepEqual(runner.state, { "counter-a": 3 });
    assert.ok(errors.length > 0, "the failed saves are reported");
    await runner.stop();
  });

  it("reports itself not caught up when evolve throws, and follows again from where it stopped", async () => {
    const store = new InMemoryEventStore();
    let failOnce = true;
    const flaky: Projection<Record<string, number>> = {
      ...counter,
      evolve(state, e) {
        if (e.stream === "counter-b" && failOnce) {
          failOnce = false;
          throw new Error("transient");
        }
        return counter.evolve(state, e);
      },
    };
    const runner = createProjectionRunner({ store, projection: flaky, onError: () => undefined });
    await runner.start();
    await runner.caughtUp;
    await appendMany(store, "counter-b", 1);
    await new Promise((resolve) => setTimeout(resolve, 100));
    assert.equal(runner.isCaughtUp(), false);
    const position = await appendMany(store, "counter-a", 1);
    await runner.waitForPosition(position, 5_000);
    assert.deepEqual(runner.state, { "counter-b": 1, "counter-a": 1 });
    assert.equal(runner.isCaughtUp(), true);
    await runner.stop();
  });

  it("waitForPosition times out with a clear error", async () => {
    const runner = createProjectionRunner({ store: new InMemoryEventStore(), projection: counter });
    await runner.start();
    await assert.rejects(
      runner.waitForPosition(10, 50),
      (error: Error) => error instanceof ProjectionLagError && /position 10/.test(error.message),
    );
    await runner.stop();
  });
});

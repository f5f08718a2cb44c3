import assert from "node:assert/strict";
import { describe, it } from "node:test";
import type { Decider } from "@eas/decider";
import { InMemoryEventStore, VersionConflictError, type EventStore } from "@eas/event-store";
import { decodeEvent, event, serviceStream, type EventOf } from "@eas/events";
import { executeCommand } from "./command.js";

type Scaled = EventOf<"eas.v1.ServiceScaled">;
interface Replicas {
  replicas: number;
}

/** A minimal aggregate: each command scales to a count; the same count decides nothing. */
const replicasDecider: Decider<{ to: number }, Scaled, Replicas> = {
  initialState: () => ({ replicas: 0 }),
  evolve: (_state, e) => ({ replicas: e.data.toReplicas }),
  decide: (command, state) =>
    command.to === state.replicas
      ? []
      : [
          event("ServiceScaled", {
            name: "svc",
            fromReplicas: state.replicas,
            toReplicas: command.to,
            cause: "user",
            scaledAt: "",
            reason: "",
          }),
        ],
};

const stream = serviceStream("svc");

async function chain(store: InMemoryEventStore): Promise<Scaled[]> {
  const recorded = await store.readStream(stream);
  return recorded.map((r) => decodeEvent(r) as Scaled);
}

describe("executeCommand", () => {
  it("given an empty stream, appends the decision and returns its position", async () => {
    const store = new InMemoryEventStore();
    const result = await executeCommand({ store, stream, decider: replicasDecider, command: { to: 2 }, source: "test" });
    assert.equal(result.events.length, 1);
    assert.equal(typeof result.position, "number");
    assert.deepEqual(result.state, { replicas: 2 }, "the state after the decision");
    assert.deepEqual(
      (await chain(store)).map((e) => e.data.toReplicas),
      [2],
    );
  });

  it("given a decision with no events, appends nothing and returns no position", async () => {
    const store = new InMemoryEventStore();
    await executeCommand({ store, stream, decider: replicasDecider, command: { to: 2 }, source: "test" });
    const first = await executeCommand({ store, stream, decider: replicasDecider, command: { to: 3 }, source: "test" });
    const again = await executeCommand({ store, stream, decider: replicasDecider, command: { to: 3 }, source: "test" });
    // The read position lets a caller wait until its read model has seen what the decision saw.
    assert.deepEqual(again, { events: [], state: { replicas: 3 }, position: undefined, readPosition: first.position });
    assert.equal((await chain(store)).length, 2);
  });

  it("given 20 concurrent commands on one stream, serves them all and each decides on the state before it", async () => {
    const store = new InMemoryEventStore();
    const targets = Array.from({ length: 20 }, (_, i) => i + 1);
    const results = await Promise.all(
      targets.map((to) => executeCommand({ store, stream, decider: replicasDecider, command: { to }, source: "test" })),
    );
    assert.ok(results.every((r) => r.events.length === 1));
    const events = await chain(store);
    assert.equal(events.length, 20);
    // No lost update: every event starts from the count the previous one set.
    events.forEach((e, i) => assert.equal(e.data.fromReplicas, i === 0 ? 0 : events[i - 1]!.data.toReplicas));
    assert.deepEqual(new Set(events.map((e) => e.data.toReplicas)), new Set(targets));
  });

  it("given a writer that always wins the race, gives up with the typed conflict after the allowed attempts", async () => {
    const store = new InMemoryEventStore();
    let reads = 0;
    const readStream: EventStore["readStream"] = async (name, options) => {
      const recorded = await store.readStream(name, options);
      reads++;
      // Another writer appends between our read and our append, every time.
      await executeCommand({ store, stream, decider: replicasDecider, command: { to: 100 + reads }, source: "rival" });
      return recorded;
    };
    const racing = new Proxy(store, {
      get: (target, property) => {
        if (property === "readStream") return readStream;
        const value: unknown = Reflect.get(target, property, target);
        return typeof value === "function" ? value.bind(target) : value;
      },
    });
    await assert.rejects(
      executeCommand({
        store: racing,
        stream,
        decider: replicasDecider,
        command: { to: 1 },
        source: "test",
        retry: { attempts: 4 },
        random: () => 0,
      }),
      VersionConflictError,
    );
    assert.equal(reads, 4);
  });
});

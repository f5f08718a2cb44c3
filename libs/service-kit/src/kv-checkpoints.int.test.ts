import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { connectNats, createBus, type Bus } from "@eas/bus";
import type { Checkpoint } from "@eas/projections";
import { createLogger } from "@eas/telemetry";
import { startNatsServer, type NatsServerHandle } from "@eas/testing";
import { openKvCheckpointStore } from "./kv-checkpoints.js";

let nats: NatsServerHandle;
let bus: Bus;

before(async () => {
  nats = await startNatsServer();
  bus = createBus(await connectNats({ servers: [nats.url], name: "kv-checkpoints-test" }), {
    name: "kv-checkpoints-test",
    logger: createLogger({ name: "kv-checkpoints-test", level: "silent" }),
  });
});
after(async () => {
  await bus?.drain();
  await nats?.stop();
});

/** A snapshot of about `bytes` bytes of JSON, with text beyond ASCII so parts split inside characters. */
const checkpointOf = (bytes: number, position: number): Checkpoint => ({
  position,
  version: 3,
  snapshot: { rows: Array.from({ length: Math.ceil(bytes / 40) }, (_, i) => [`instance-${i}`, "échantillon-€", i]) },
});

describe("KV checkpoints", () => {
  it("keeps a small checkpoint in one key", async () => {
    const store = await openKvCheckpointStore(bus.keyValue(), "small");
    await store.save("p", checkpointOf(1_000, 7));
    assert.deepEqual(await store.load("p"), checkpointOf(1_000, 7));
    await store.clear("p");
    assert.equal(await store.load("p"), undefined);
  });

  it("keeps a checkpoint larger than NATS's max payload (1 MiB) in parts, and the latest save wins", async () => {
    const store = await openKvCheckpointStore(bus.keyValue(), "large");
    await store.save("p", checkpointOf(3_000_000, 1));
    assert.deepEqual(await store.load("p"), checkpointOf(3_000_000, 1));
    await store.save("p", checkpointOf(1_500_000, 2));
    assert.deepEqual(await store.load("p"), checkpointOf(1_500_000, 2));
    await store.save("p", checkpointOf(100, 3));
    assert.deepEqual(await store.load("p"), checkpointOf(100, 3));
    const keys: string[] = [];
    for await (const k of await (await bus.keyValue().open("eas_checkpoints")).keys("large.>")) keys.push(k);
    assert.deepEqual(keys, ["large.p"], "no part is left once the checkpoint fits in one key again");
  });

  it("answers no checkpoint rather than a mix of two saves when a part is missing or stale", async () => {
    const store = await openKvCheckpointStore(bus.keyValue(), "torn", "eas_checkpoints", 64 * 1024);
    await store.save("p", checkpointOf(200_000, 1));
    const kv = await bus.keyValue().open("eas_checkpoints");
    await kv.put("torn.p.part.1", "someothergeneration\n{}");
    assert.equal(await store.load("p"), undefined);
    await store.save("p", checkpointOf(200_000, 2));
    await kv.delete("torn.p.part.2");
    assert.equal(await store.load("p"), undefined);
    await store.save("p", checkpointOf(200_000, 3));
    assert.deepEqual(await store.load("p"), checkpointOf(200_000, 3));
  });
});

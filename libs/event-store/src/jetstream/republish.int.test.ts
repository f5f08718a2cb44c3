/**
 * The public subjects (`<subjectPrefix>.>`, `eas.events.>` by default) carry exactly what the log stored,
 * and a log of the layout before RePublish is migrated with its positions kept.
 */
import assert from "node:assert/strict";
import { randomUUID } from "node:crypto";
import { after, before, describe, it } from "node:test";
import { jetstream, jetstreamManager, type JetStreamManager } from "@nats-io/jetstream";
import { connect, headers as natsHeaders, type Msg, type NatsConnection } from "@nats-io/transport-node";
import { startNatsServer, waitFor, type NatsServerHandle } from "@eas/testing";
import { VersionConflictError } from "../errors.js";
import type { EventStore, RecordedEvent } from "../types.js";
import { encodeEvent } from "./cloudevents.js";
import { connectJetStreamEventStore } from "./index.js";

let server: NatsServerHandle;
let admin: NatsConnection;
let jsm: JetStreamManager;
let counter = 0;

before(async () => {
  server = await startNatsServer();
  admin = await connect({ servers: server.url });
  jsm = await jetstreamManager(admin);
});

after(async () => {
  await admin?.close();
  await server?.stop();
});

function freshNames() {
  counter++;
  return { streamName: `R${counter}_${process.pid}`, subjectPrefix: `r${counter}.events`, logSubjectPrefix: `r${counter}.log` };
}

/** What a plain NATS subscriber learns from one message: the position and revision the message claims. */
interface Claimed {
  subject: string;
  id: string;
  position: number;
  revision: number;
}

function claimed(message: Msg): Claimed {
  return {
    subject: message.subject,
    id: message.headers?.get("ce-id") ?? "",
    position: Number(message.headers?.get("Nats-Sequence")),
    revision: Number(message.headers?.get("eas-revision")),
  };
}

/** A plain (core NATS) subscription, as any outside client makes it. */
async function plainSubscriber(subject: string) {
  const nc = await connect({ servers: server.url, name: "plain-subscriber" });
  const received: Claimed[] = [];
  nc.subscribe(subject, { callback: (_error, message) => void received.push(claimed(message)) });
  await nc.flush();
  return { nc, received };
}

async function readAll(store: EventStore): Promise<RecordedEvent[]> {
  const events: RecordedEvent[] = [];
  for await (const event of store.readAll()) events.push(event);
  return events;
}

function asClaimed(events: RecordedEvent[], prefix: string): Claimed[] {
  return events.map((e) => ({
    subject: `${prefix}.${e.stream.replace("-", ".")}`,
    id: e.id,
    position: e.position,
    revision: e.revision,
  }));
}

describe("the public subjects of the JetStream event store", () => {
  it("carry every stored event once, in log order, and no append the store rejected", async () => {
    const names = freshNames();
    const store = await connectJetStreamEventStore({ servers: server.url, ...names });
    const outsider = await plainSubscriber(`${names.subjectPrefix}.>`);
    // What a subscriber on the subjects appends are published to would see: more than the log holds.
    const internal = await plainSubscriber(`${names.logSubjectPrefix}.>`);
    try {
      const streams = ["service-a", "service-b", "instance-c"];
      let conflicts = 0;
      // Eight writers, each deciding from the revision it last saw, race on three streams.
      await Promise.all(
        Array.from({ length: 8 }, async (_, writer) => {
          for (let i = 0; i < 25; i++) {
            const stream = streams[(writer + i) % streams.length]!;
            for (;;) {
              const last = (await store.readStream(stream, {})).at(-1)?.revision;
              try {
                await store.append(stream, [{ id: randomUUID(), type: "T", data: { writer, i } }], {
                  expectedRevision: last === undefined ? "no_stream" : last,
                });
                break;
              } catch (error) {
                if (!(error instanceof VersionConflictError)) throw error;
                conflicts++;
              }
            }
          }
        }),
      );
      const head = await store.headPosition();
      assert.equal(head, 200);
      await waitFor("the outsider to receive as many events as the log holds", () => outsider.received.length >= head, {
        timeoutMs: 10_000,
      });
      await outsider.nc.flush();
      assert.ok(conflicts > 0, "the writers must have conflicted for this test to mean anything");
      assert.ok(internal.received.length > head, "appends the server rejected were published on the internal subjects");
      assert.deepEqual(outsider.received, asClaimed(await readAll(store), names.subjectPrefix));
    } finally {
      await outsider.nc.close();
      await internal.nc.close();
      await store.close();
      await jsm.streams.delete(names.streamName).catch(() => undefined);
    }
  });

  it("refuses an existing stream that does not republish", async () => {
    const names = freshNames();
    await jsm.streams.add({ name: names.streamName, subjects: [`${names.logSubjectPrefix}.>`] });
    try {
      await assert.rejects(connectJetStreamEventStore({ nc: admin, ...names }), /without RePublish of r\d+\.log\.> to r\d+\.events\.>/);
    } finally {
      await jsm.streams.delete(names.streamName);
    }
  });
});

describe("migrating a log of the layout before RePublish", () => {
  /** A stream as the earlier adapter wrote it: events stored on the public subjects, with its headers. */
  async function legacyLog(names: ReturnType<typeof freshNames>, legacyStreamName: string, count: number) {
    await jsm.streams.add({ name: legacyStreamName, subjects: [`${names.subjectPrefix}.>`], deny_delete: true, deny_purge: true });
    const js = jetstream(admin);
    const written: Claimed[] = [];
    const lastOf = new Map<string, { seq: number; revision: number }>();
    for (let i = 0; i < count; i++) {
      const stream = i % 3 === 0 ? "node-n1" : "service-s1";
      const tail = lastOf.get(stream);
      const revision = (tail?.revision ?? -1) + 1;
      const id = randomUUID();
      const { headers, body } = encodeEvent({ id, type: "T", data: { i } }, stream, revision, { time: new Date(), source: "eas" });
      const subject = `${names.subjectPrefix}.${stream.replace("-", ".")}`;
      const ack = await js.publish(subject, body, { headers, msgID: id, expect: { lastSubjectSequence: tail?.seq ?? 0 } });
      lastOf.set(stream, { seq: ack.seq, revision });
      written.push({ subject, id, position: ack.seq, revision });
    }
    return written;
  }

  it("copies every event to the same position, concurrently from several processes, then removes the old stream", async () => {
    const names = freshNames();
    const legacyStreamName = `OLD${counter}_${process.pid}`;
    const written = await legacyLog(names, legacyStreamName, 700);
    const outsider = await plainSubscriber(`${names.subjectPrefix}.>`);
    const stores = await Promise.all([1, 2, 3].map(() => connectJetStreamEventStore({ servers: server.url, ...names, legacyStreamName })));
    try {
      await assert.rejects(jsm.streams.info(legacyStreamName), /stream not found/);
      const [store] = stores;
      const events = await readAll(store!);
      assert.deepEqual(asClaimed(events, names.subjectPrefix), written);
      // Appends go on from the migrated revisions and positions.
      const result = await store!.append("node-n1", [{ id: randomUUID(), type: "After", data: {} }], {
        expectedRevision: written.filter((w) => w.subject.endsWith("node.n1")).at(-1)!.revision,
      });
      assert.equal(result.position, written.length + 1);
      await waitFor("the outsider to receive the copies and the new event", () => outsider.received.length >= written.length + 1, {
        timeoutMs: 10_000,
      });
      assert.deepEqual(outsider.received.slice(0, written.length), written, "each copy is published once, in order");
      assert.equal(outsider.received.length, written.length + 1);
    } finally {
      await outsider.nc.close();
      await Promise.all(stores.map((s) => s.close()));
      await jsm.streams.delete(names.streamName).catch(() => undefined);
    }
  });

  it("finishes a migration that stopped half-way", async () => {
    const names = freshNames();
    const legacyStreamName = `OLD${counter}_${process.pid}`;
    const written = await legacyLog(names, legacyStreamName, 20);
    // A first process parked the old stream, created the new one and copied 5 events before it died.
    const legacy = await jsm.streams.info(legacyStreamName);
    await jsm.streams.update(legacyStreamName, { ...legacy.config, subjects: [`${legacyStreamName}.parked.>`] });
    await jsm.streams.add({
      name: names.streamName,
      subjects: [`${names.logSubjectPrefix}.>`],
      republish: { src: `${names.logSubjectPrefix}.>`, dest: `${names.subjectPrefix}.>` },
    });
    const js = jetstream(admin);
    for (let seq = 1; seq <= 5; seq++) {
      const message = (await jsm.streams.getMessage(legacyStreamName, { seq }))!;
      const subject = message.subject.replace(names.subjectPrefix, names.logSubjectPrefix);
      const copied = natsHeaders();
      for (const key of message.header.keys()) if (!key.startsWith("Nats-")) copied.set(key, message.header.get(key));
      await js.publish(subject, message.data, { headers: copied, expect: { lastSequence: seq - 1 } });
    }
    const store = await connectJetStreamEventStore({ servers: server.url, ...names, legacyStreamName });
    try {
      assert.deepEqual(asClaimed(await readAll(store), names.subjectPrefix), written);
      assert.equal((await store.readStream("service-s1")).at(-1)?.revision, written.filter((w) => w.subject.endsWith("s1")).length - 1);
    } finally {
      await store.close();
      await jsm.streams.delete(names.streamName).catch(() => undefined);
    }
  });
});

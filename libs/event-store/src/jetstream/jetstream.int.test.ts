import assert from "node:assert/strict";
import { randomUUID } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { jetstreamManager, type JetStreamManager } from "@nats-io/jetstream";
import { connect, type NatsConnection } from "@nats-io/transport-node";
import { startNatsServer, type NatsServerHandle } from "@eas/testing";
import { EventStoreUnavailableError, VersionConflictError } from "../errors.js";
import { eventStoreContract } from "../testing/index.js";
import type { EventStore } from "../types.js";
import { encodeEvent } from "./cloudevents.js";
import { connectJetStreamEventStore, EventHeaders } from "./index.js";

// One nats-server for the whole file; every case gets its own JetStream stream and subject prefix.
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

function freshNames(): { streamName: string; subjectPrefix: string } {
  counter++;
  return { streamName: `T${counter}_${process.pid}`, subjectPrefix: `t${counter}.events` };
}
/** Where a store with these names stores events (its default `logSubjectPrefix`). */
const logPrefix = (names: { subjectPrefix: string }) => names.subjectPrefix.replace(/\.events$/, ".log");

async function freshStore(overrides: Parameters<typeof connectJetStreamEventStore>[0] = {}) {
  const names = freshNames();
  const store = await connectJetStreamEventStore({ servers: server.url, ...names, ...overrides });
  return {
    store,
    names,
    cleanup: async () => {
      await store.close();
      await jsm.streams.delete(names.streamName).catch(() => undefined);
    },
  };
}

eventStoreContract("JetStream", () => freshStore());

describe("JetStreamEventStore on nats-server", () => {
  it("stores each event as a CloudEvent (binary mode) on eas.log.<category>.<id>", async () => {
    const { store, names, cleanup } = await freshStore();
    try {
      const id = randomUUID();
      const time = new Date("2026-05-06T07:08:09.010Z");
      await store.append(
        "service-iris",
        [
          {
            id,
            type: "eas.v1.ServiceCreated",
            data: { name: "iris", version: 1 },
            time,
            metadata: {
              source: "eas/deployer",
              traceparent: "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01",
              correlationId: "corr-1",
              causationId: "cause-1",
            },
          },
        ],
        { expectedRevision: "no_stream" },
      );
      const raw = await jsm.streams.getMessage(names.streamName, { seq: 1 });
      assert.ok(raw);
      assert.equal(raw.subject, `${logPrefix(names)}.service.iris`);
      const h = raw.header;
      assert.equal(h.get("ce-specversion"), "1.0");
      assert.equal(h.get("ce-id"), id);
      assert.equal(h.get("ce-type"), "eas.v1.ServiceCreated");
      assert.equal(h.get("ce-source"), "eas/deployer");
      assert.equal(h.get("ce-time"), "2026-05-06T07:08:09.010Z");
      assert.equal(h.get("ce-subject"), "service-iris");
      assert.equal(h.get("content-type"), "application/json");
      assert.equal(h.get("traceparent"), "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01");
      assert.equal(h.has("tracestate"), false);
      assert.equal(h.get("eas-revision"), "0");
      assert.equal(h.get("eas-correlation-id"), "corr-1");
      assert.equal(h.get("eas-causation-id"), "cause-1");
      assert.equal(h.get("Nats-Msg-Id"), id, "the event id is the de-duplication id");
      assert.deepEqual(JSON.parse(new TextDecoder().decode(raw.data)), { name: "iris", version: 1 });
      assert.equal(EventHeaders.type, "ce-type");
    } finally {
      await cleanup();
    }
  });

  it("creates the stream as configured and accepts an existing one on reconnect", async () => {
    const names = freshNames();
    const first = await connectJetStreamEventStore({ servers: server.url, ...names, duplicateWindowMs: 30_000 });
    try {
      const info = await jsm.streams.info(names.streamName);
      assert.deepEqual(info.config.subjects, [`${logPrefix(names)}.>`]);
      assert.deepEqual(info.config.republish, { src: `${logPrefix(names)}.>`, dest: `${names.subjectPrefix}.>` });
      assert.equal(info.config.storage, "file");
      assert.equal(info.config.duplicate_window, 30_000 * 1_000_000);
      await first.append("node-n1", [{ id: randomUUID(), type: "T", data: {} }], { expectedRevision: "no_stream" });
      // A second store on the same stream (another service) updates the window and sees the same log.
      const second = await connectJetStreamEventStore({ nc: admin, ...names, duplicateWindowMs: 60_000 });
      assert.equal((await jsm.streams.info(names.streamName)).config.duplicate_window, 60_000 * 1_000_000);
      assert.equal((await second.readStream("node-n1")).length, 1);
      await second.close();
      assert.equal(admin.isClosed(), false, "a store must not close a connection it was given");
    } finally {
      await first.close();
      await jsm.streams.delete(names.streamName);
    }
  });

  it("refuses a stream of the same name that carries other subjects", async () => {
    const names = freshNames();
    await jsm.streams.add({ name: names.streamName, subjects: ["elsewhere.>"] });
    try {
      await assert.rejects(connectJetStreamEventStore({ nc: admin, ...names }), /not t\d+\.log\.>/);
    } finally {
      await jsm.streams.delete(names.streamName);
    }
  });

  it("completes a half-written multi-event append when retried with the same ids", async () => {
    const { store, names, cleanup } = await freshStore();
    try {
      const batch = [0, 1, 2].map((i) => ({ id: randomUUID(), type: `E${i}`, data: {} }));
      // A writer that died after its first publish leaves exactly this behind.
      await store.append("instance-abc", [batch[0]!], { expectedRevision: "no_stream" });
      const result = await store.append("instance-abc", batch, { expectedRevision: "no_stream" });
      assert.equal(result.nextExpectedRevision, 2);
      const events = await store.readStream("instance-abc");
      assert.deepEqual(
        events.map((e) => e.type),
        ["E0", "E1", "E2"],
      );
      assert.equal((await jsm.streams.info(names.streamName)).state.messages, 3);
    } finally {
      await cleanup();
    }
  });

  it("does not cut another writer's unfinished multi-event append in two", async () => {
    const { store, names, cleanup } = await freshStore();
    try {
      const batch = [0, 1].map((i) => ({ id: randomUUID(), type: `Batch${i}`, data: {} }));
      // The first event of a two-event append, as its writer publishes it: "one more to come".
      const first = encodeEvent(batch[0]!, "node-n1", 0, { time: new Date(), source: "eas" }, 1);
      first.headers.set("Nats-Msg-Id", batch[0]!.id);
      await admin.request(`${logPrefix(names)}.node.n1`, first.body, { headers: first.headers, timeout: 2_000 });
      const other = store.append("node-n1", [{ id: randomUUID(), type: "Other", data: {} }], { expectedRevision: "any" });
      // The batch's writer completes it a little later (here: its retry with the same ids).
      await new Promise((resolve) => setTimeout(resolve, 150));
      const completed = await store.append("node-n1", batch, { expectedRevision: "no_stream" }).catch(async (error: unknown) => {
        await other.catch(() => undefined);
        throw error;
      });
      assert.equal(completed.nextExpectedRevision, 1);
      assert.equal((await other).nextExpectedRevision, 2, "the other append lands after the whole batch");
      assert.deepEqual(
        (await store.readStream("node-n1")).map((e) => e.type),
        ["Batch0", "Batch1", "Other"],
      );
    } finally {
      await cleanup();
    }
  });

  it("reports a conflict, not success, when an id is reused with another expectation", async () => {
    const { store, cleanup } = await freshStore();
    try {
      const event = { id: randomUUID(), type: "T", data: {} };
      await store.append("service-a", [event], { expectedRevision: "no_stream" });
      await assert.rejects(store.append("service-a", [event], { expectedRevision: 0 }), VersionConflictError);
      await assert.rejects(store.append("service-b", [event], { expectedRevision: "no_stream" }), /already used in stream service-a/);
    } finally {
      await cleanup();
    }
  });

  it("fails with EventStoreUnavailableError once the retry budget is spent", async () => {
    const own = await startNatsServer();
    const names = freshNames();
    const store: EventStore = await connectJetStreamEventStore({
      servers: own.url,
      ...names,
      retry: { budgetMs: 600, initialDelayMs: 50, maxDelayMs: 200 },
      requestTimeoutMs: 200,
    });
    try {
      await store.append("service-x", [{ id: randomUUID(), type: "T", data: {} }], { expectedRevision: "no_stream" });
      await own.stop();
      const started = Date.now();
      const error = await store.append("service-x", [{ id: randomUUID(), type: "T", data: {} }], { expectedRevision: 0 }).then(
        () => undefined,
        (e: unknown) => e,
      );
      assert.ok(error instanceof EventStoreUnavailableError, `got ${String(error)}`);
      assert.equal(error.retryable, true);
      assert.ok(Date.now() - started < 5_000, "bounded by the retry budget");
      await assert.rejects(store.headPosition(), EventStoreUnavailableError);
    } finally {
      await own.stop();
      await store.close();
    }
  });

  it("fails to connect with EventStoreUnavailableError when no server answers", async () => {
    const own = await startNatsServer();
    const url = own.url;
    await own.stop();
    const error = await connectJetStreamEventStore({ servers: url, retry: { budgetMs: 300 } }).then(
      () => undefined,
      (e: unknown) => e,
    );
    assert.ok(error instanceof EventStoreUnavailableError, `got ${String(error)}`);
  });

  it("survives a server restart: a subscription resumes without gap or duplicate", async () => {
    const storeDir = mkdtempSync(join(tmpdir(), "eas-es-restart-"));
    const own = await startNatsServer({ storeDir });
    let restarted: NatsServerHandle | undefined;
    const names = freshNames();
    const nc = await connect({ servers: own.url, reconnectTimeWait: 100, maxReconnectAttempts: -1 });
    // A short request timeout: a request sent while the server restarts is lost and only the timeout retries it.
    const store = await connectJetStreamEventStore({ nc, ...names, requestTimeoutMs: 1_000 });
    const subscription = store.subscribeToAll();
    try {
      const seen: number[] = [];
      const consuming = (async () => {
        for await (const event of subscription) {
          seen.push(event.position);
          if (seen.length === 4) return;
        }
      })();
      for (let i = 0; i < 2; i++) {
        await store.append("node-n1", [{ id: randomUUID(), type: "T", data: {} }], { expectedRevision: i === 0 ? "no_stream" : i - 1 });
      }
      await own.stop();
      restarted = await startNatsServer({ port: own.port, storeDir: own.storeDir });
      for (let i = 2; i < 4; i++) {
        await store.append("node-n1", [{ id: randomUUID(), type: "T", data: {} }], { expectedRevision: i - 1 });
      }
      await Promise.race([
        consuming,
        new Promise((_, reject) => setTimeout(() => reject(new Error(`timed out; saw ${JSON.stringify(seen)}`)), 20_000).unref()),
      ]);
      assert.deepEqual(seen, [1, 2, 3, 4]);
    } finally {
      await subscription.close();
      await store.close();
      await nc.close();
      await restarted?.stop();
      await own.stop();
      rmSync(storeDir, { recursive: true, force: true });
    }
  });
});

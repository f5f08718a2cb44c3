import { describe, it, before, after } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { SpanKind, trace } from "@opentelemetry/api";
import { connect } from "@nats-io/transport-node";
import { activeTraceIds, createLogger, type Logger } from "@eas/telemetry";
import { startTestTelemetry, type TestTelemetry } from "@eas/telemetry/testing";
import { startNatsServer, waitFor, type NatsServerHandle } from "@eas/testing";
import { connectBus, type Bus } from "./bus.js";
import { BusUnavailableError, InvalidSubjectError } from "./errors.js";
import type { Codec, Schema } from "./codec.js";
import { defineEncodedSubject, defineSubject } from "./subject.js";

interface Heartbeat {
  nodeId: string;
  seq: number;
}

const heartbeatSchema: Schema<Heartbeat> = {
  parse(input) {
    const value = input as Partial<Heartbeat> | null;
    if (typeof value?.nodeId !== "string" || typeof value.seq !== "number") throw new TypeError("not a heartbeat");
    return { nodeId: value.nodeId, seq: value.seq };
  },
};

/** A logger whose lines the test can read. */
function capturingLogger(): { logger: Logger; lines: Record<string, unknown>[] } {
  const lines: Record<string, unknown>[] = [];
  const logger = createLogger({
    name: "bus-test",
    level: "debug",
    destination: {
      write(chunk: string) {
        for (const line of chunk.split("\n")) if (line) lines.push(JSON.parse(line) as Record<string, unknown>);
      },
    },
  });
  return { logger, lines };
}

/** Collects handler calls and lets a test wait for a count. */
function collector<T>() {
  const items: T[] = [];
  return {
    items,
    push: (item: T) => void items.push(item),
    waitForCount: (count: number, timeoutMs = 5_000) =>
      waitFor(`${count} messages`, () => items.length >= count, { timeoutMs, intervalMs: 10 }),
  };
}

let counter = 0;
/** A subject prefix of its own for each test, so tests on the shared server cannot see each other's messages. */
function unique(prefix: string): string {
  counter += 1;
  return `test.${prefix}.${process.pid}.${counter}`;
}

describe("bus against a real nats-server", () => {
  let server: NatsServerHandle;
  let telemetry: TestTelemetry;
  let bus: Bus;
  let other: Bus;
  let logs: Record<string, unknown>[];

  before(async () => {
    telemetry = startTestTelemetry({ serviceName: "bus-int-test" });
    server = await startNatsServer();
    const captured = capturingLogger();
    logs = captured.lines;
    bus = await connectBus({ servers: server.url, name: "bus-test-a", logger: captured.logger });
    other = await connectBus({ servers: server.url, name: "bus-test-b", logger: captured.logger });
  });

  after(async () => {
    await bus?.close();
    await other?.close();
    await server?.stop();
    await telemetry?.shutdown();
  });

  it("publishes and subscribes a typed message, giving the handler the wildcard tokens", async () => {
    const heartbeat = defineSubject(`${unique("hb")}.*`, heartbeatSchema);
    const received = collector<{ beat: Heartbeat; tokens: readonly string[]; subject: string }>();
    const sub = other.subscribe(heartbeat, (beat, context) => received.push({ beat, tokens: context.tokens, subject: context.subject }));
    await other.flush();
    bus.publish(heartbeat.with("node-1"), { nodeId: "node-1", seq: 1 });
    bus.publish(heartbeat, { nodeId: "node-2", seq: 2 }, { token: "node-2" });
    await received.waitForCount(2);
    assert.deepEqual(
      received.items.map((item) => [item.beat, item.tokens]),
      [
        [{ nodeId: "node-1", seq: 1 }, ["node-1"]],
        [{ nodeId: "node-2", seq: 2 }, ["node-2"]],
      ],
    );
    assert.equal(received.items[0]?.subject, `${heartbeat.pattern.slice(0, -2)}.node-1`);
    await sub.drain();
  });

  it("refuses to publish to a subject with wildcards left", () => {
    const subject = defineSubject<number>(`${unique("wild")}.*`);
    assert.throws(() => bus.publish(subject, 1), InvalidSubjectError);
  });

  it("logs and drops payloads that are not JSON or fail the schema, then goes on", async () => {
    const subject = defineSubject(unique("invalid"), heartbeatSchema);
    const received = collector<Heartbeat>();
    const sub = other.subscribe(subject, received.push);
    await other.flush();
    const logsBefore = logs.length;
    // A client outside the bus, which can send anything.
    const raw = await connect({ servers: server.url, name: "bus-test-raw" });
    raw.publish(subject.subject, "{not json");
    raw.publish(subject.subject, JSON.stringify({ nodeId: 42 }));
    await raw.flush();
    await raw.close();
    bus.publish(subject, { nodeId: "ok", seq: 3 });
    await received.waitForCount(1);
    assert.deepEqual(received.items, [{ nodeId: "ok", seq: 3 }]);
    const drops = logs.slice(logsBefore).filter((line) => String(line.msg).startsWith("dropped a message"));
    assert.equal(drops.length, 2);
    assert.equal(drops[0]?.level, "warn");
    await sub.drain();
  });

  it("carries binary payloads through a subject's codec, and drops what it cannot decode", async () => {
    // Two unsigned 16-bit numbers, big-endian: the kind of compact sample a protobuf codec writes.
    const pair: Codec<[number, number]> = {
      encode: ([a, b]) => Uint8Array.of(a >> 8, a & 0xff, b >> 8, b & 0xff),
      decode: (data) => {
        if (data.length !== 4) throw new RangeError(`4 bytes expected, got ${data.length}`);
        return [(data[0]! << 8) | data[1]!, (data[2]! << 8) | data[3]!];
      },
    };
    const subject = defineEncodedSubject(`${unique("binary")}.*`, pair, { traced: false });
    const received = collector<[number, number]>();
    const sub = other.subscribe(subject, received.push);
    await other.flush();
    const raw = await connect({ servers: server.url, name: "bus-test-raw-binary" });
    raw.publish(subject.with("x").subject, Uint8Array.of(1, 2, 3));
    await raw.flush();
    await raw.close();
    bus.publish(subject.with("x"), [500, 7]);
    await received.waitForCount(1);
    assert.deepEqual(received.items, [[500, 7]]);
    await sub.drain();
  });

  it("keeps a subscription alive when its handler throws", async () => {
    const subject = defineSubject<number>(unique("throws"));
    const received = collector<number>();
    const sub = other.subscribe(subject, (n) => {
      if (n === 1) throw new Error("first one fails");
      received.push(n);
    });
    await other.flush();
    bus.publish(subject, 1);
    bus.publish(subject, 2);
    await received.waitForCount(1);
    assert.deepEqual(received.items, [2]);
    await sub.drain();
  });

  it("shares the work of a queue group: each message goes to exactly one member", async () => {
    const subject = defineSubject<number>(unique("queue"));
    const first = collector<number>();
    const second = collector<number>();
    const subs = [bus.subscribe(subject, first.push, { queue: "workers" }), other.subscribe(subject, second.push, { queue: "workers" })];
    await Promise.all([bus.flush(), other.flush()]);
    const total = 40;
    for (let n = 0; n < total; n += 1) bus.publish(subject, n);
    await waitFor("all queue messages", () => first.items.length + second.items.length >= total, { timeoutMs: 5_000 });
    await new Promise((resolve) => setTimeout(resolve, 50));
    const all = [...first.items, ...second.items].sort((a, b) => a - b);
    assert.deepEqual(
      all,
      Array.from({ length: total }, (_, n) => n),
    );
    assert.ok(first.items.length > 0 && second.items.length > 0, `split ${first.items.length}/${second.items.length}`);
    await Promise.all(subs.map((sub) => sub.drain()));
  });

  it("propagates the trace: the subscriber runs in a CONSUMER span of the publisher's trace", async () => {
    const subject = defineSubject<string>(unique("traced"));
    const seen = collector<{ traceId: string; spanId: string } | undefined>();
    const sub = other.subscribe(subject, () => seen.push(activeTraceIds()));
    await other.flush();
    telemetry.reset();
    const parent = await trace.getTracer("test").startActiveSpan("create service", async (span) => {
      bus.publish(subject, "created");
      span.end();
      return span.spanContext();
    });
    await seen.waitForCount(1);
    assert.equal(seen.items[0]?.traceId, parent.traceId);

    await waitFor("consumer span", async () => (await telemetry.spans()).some((span) => span.name === `process ${subject.pattern}`));
    const spans = await telemetry.spans();
    const producer = spans.find((span) => span.name === `send ${subject.pattern}`);
    const consumer = spans.find((span) => span.name === `process ${subject.pattern}`);
    assert.ok(producer && consumer);
    assert.equal(producer.kind, SpanKind.PRODUCER);
    assert.equal(producer.parentSpanContext?.spanId, parent.spanId);
    assert.equal(consumer.kind, SpanKind.CONSUMER);
    assert.equal(consumer.spanContext().traceId, parent.traceId);
    assert.equal(consumer.parentSpanContext?.spanId, producer.spanContext().spanId);
    assert.equal(seen.items[0]?.spanId, consumer.spanContext().spanId);
    assert.equal(consumer.attributes["messaging.system"], "nats");
    await sub.drain();
  });

  it("sends no trace headers for an untraced subject", async () => {
    const subject = defineSubject<number>(unique("untraced"), undefined, { traced: false });
    const headers = collector<Readonly<Record<string, string>>>();
    const sub = other.subscribe(subject, (_n, context) => headers.push(context.headers));
    await other.flush();
    await trace.getTracer("test").startActiveSpan("outer", async (span) => {
      bus.publish(subject, 1);
      span.end();
    });
    await headers.waitForCount(1);
    assert.deepEqual(headers.items[0], {});
    await sub.drain();
  });

  it("drain waits for handlers in flight", async () => {
    const subject = defineSubject<number>(unique("drain"));
    let started = 0;
    let finished = 0;
    const sub = other.subscribe(
      subject,
      async () => {
        started += 1;
        await new Promise((resolve) => setTimeout(resolve, 100));
        finished += 1;
      },
      { maxConcurrent: 3 },
    );
    await other.flush();
    for (let n = 0; n < 3; n += 1) bus.publish(subject, n);
    await waitFor("handlers running", () => started === 3, { timeoutMs: 2_000, intervalMs: 5 });
    assert.equal(finished, 0);
    await sub.drain();
    assert.equal(finished, 3);
  });
  it("hands out JetStream, KV and Object Store clients on its connection", async () => {
    const name = unique("js").replaceAll(".", "_");
    const jsm = await bus.jetstreamManager();
    await jsm.streams.add({ name, subjects: [`${name}.>`] });
    const ack = await bus.jetstream().publish(`${name}.work`, "job-1");
    assert.equal(ack.stream, name);
    const stored = await jsm.streams.getMessage(name, { seq: ack.seq });
    assert.equal(stored?.string(), "job-1");
    await jsm.streams.delete(name);

    const kv = await bus.keyValue().create(name, { history: 1 });
    await kv.put("key", "value");
    assert.equal((await kv.get("key"))?.string(), "value");
    await kv.destroy();

    const objects = await bus.objectStore().create(name);
    await objects.putBlob({ name: "blob" }, new TextEncoder().encode("bytes"));
    assert.equal(new TextDecoder().decode((await objects.getBlob("blob")) ?? new Uint8Array()), "bytes");
    await objects.destroy();
  });

  it("bus.drain finishes handlers in flight, then closes the connection", async () => {
    const draining = await connectBus({
      servers: server.url,
      name: "bus-test-drain",
      logger: createLogger({ name: "t", level: "silent" }),
    });
    const subject = defineSubject<number>(unique("bus-drain"));
    let finished = 0;
    let started = 0;
    draining.subscribe(subject, async () => {
      started += 1;
      await new Promise((resolve) => setTimeout(resolve, 100));
      finished += 1;
    });
    await draining.flush();
    bus.publish(subject, 1);
    await waitFor("handler running", () => started === 1, { timeoutMs: 2_000, intervalMs: 5 });
    await draining.drain();
    assert.equal(finished, 1);
    assert.equal(draining.isClosed(), true);
    assert.throws(() => draining.publish(subject, 2), BusUnavailableError);
  });
});

describe("connectBus", () => {
  it("fails with BusUnavailableError when no server answers", async () => {
    await assert.rejects(
      connectBus({ servers: "nats://127.0.0.1:1", name: "nowhere", logger: createLogger({ name: "t", level: "silent" }) }),
      BusUnavailableError,
    );
  });

  it("given the server goes away and comes back on the same port, then the bus delivers again", async () => {
    const storeDir = mkdtempSync(join(tmpdir(), "eas-bus-reconnect-"));
    let server = await startNatsServer({ storeDir });
    const port = server.port;
    const { logger, lines } = capturingLogger();
    const publisher = await connectBus({ servers: server.url, name: "reconnect-pub", logger, reconnectTimeWaitMs: 100 });
    const subscriber = await connectBus({ servers: server.url, name: "reconnect-sub", logger, reconnectTimeWaitMs: 100 });
    try {
      const subject = defineSubject<string>(unique("reconnect"));
      const received = collector<string>();
      subscriber.subscribe(subject, received.push);
      await subscriber.flush();
      publisher.publish(subject, "before");
      await received.waitForCount(1);

      await server.stop();
      await waitFor("disconnect logged", () => lines.some((line) => line.msg === "disconnected from NATS"), {
        timeoutMs: 5_000,
      });
      server = await startNatsServer({ port, storeDir });
      await waitFor("both reconnected", () => lines.filter((line) => line.msg === "reconnected to NATS").length >= 2, {
        timeoutMs: 10_000,
      });
      // The subscriber re-subscribes on reconnect; flush makes sure the server has it before publishing.
      await subscriber.flush();
      publisher.publish(subject, "after");
      await received.waitForCount(2);
      assert.deepEqual(received.items, ["before", "after"]);
    } finally {
      await publisher.close();
      await subscriber.close();
      await server.stop();
      rmSync(storeDir, { recursive: true, force: true });
    }
  });
});

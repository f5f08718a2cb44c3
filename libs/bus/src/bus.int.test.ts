import { describe, it, before, after } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { SpanKind, trace } from "@opentelemetry/api";
import { activeTraceIds, createLogger, type Logger } from "@eas/telemetry";
import { startTestTelemetry, type TestTelemetry } from "@eas/telemetry/testing";
import { startNatsServer, waitFor, type NatsServerHandle } from "@eas/testing";
import { connectBus, type Bus } from "./bus.js";
import { BusNoRespondersError, BusRequestError, BusTimeoutError, BusUnavailableError, InvalidSubjectError, ReplyError } from "./errors.js";
import { defineRequestSubject, defineSubject, type Schema } from "./subject.js";

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
    bus.nc.publish(subject.subject, "{not json");
    bus.nc.publish(subject.subject, JSON.stringify({ nodeId: 42 }));
    bus.publish(subject, { nodeId: "ok", seq: 3 });
    await received.waitForCount(1);
    assert.deepEqual(received.items, [{ nodeId: "ok", seq: 3 }]);
    const drops = logs.slice(logsBefore).filter((line) => String(line.msg).startsWith("dropped a message"));
    assert.equal(drops.length, 2);
    assert.equal(drops[0]?.level, "warn");
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

  describe("request/reply", () => {
    interface Place {
      cpu: number;
    }
    interface Placement {
      nodeId: string;
      cpu: number;
    }

    it("answers a typed request", async () => {
      const place = defineRequestSubject<Place, Placement>(`${unique("place")}.*`);
      const sub = other.reply(place, (request, context) => ({ nodeId: context.tokens[0] ?? "?", cpu: request.cpu }));
      await other.flush();
      const placement = await bus.request(place.with("node-7"), { cpu: 500 }, { timeoutMs: 2_000 });
      assert.deepEqual(placement, { nodeId: "node-7", cpu: 500 });
      await sub.drain();
    });

    it("turns an error reply into a BusRequestError with the replier's code", async () => {
      const place = defineRequestSubject<Place, Placement>(unique("place-error"));
      const sub = other.reply(place, (request) => {
        if (request.cpu > 1000) throw new ReplyError("INSUFFICIENT_CPU", `no node has ${request.cpu} millicores`);
        throw new Error("database on fire");
      });
      await other.flush();
      await assert.rejects(bus.request(place, { cpu: 4000 }), (error: unknown) => {
        assert.ok(error instanceof BusRequestError);
        assert.equal(error.code, "INSUFFICIENT_CPU");
        assert.equal(error.replyMessage, "no node has 4000 millicores");
        assert.equal(error.subject, place.subject);
        assert.equal(error.retryable, false);
        return true;
      });
      await assert.rejects(bus.request(place, { cpu: 1 }), (error: unknown) => {
        assert.ok(error instanceof BusRequestError);
        assert.equal(error.code, "INTERNAL");
        return true;
      });
      await sub.drain();
    });

    it("answers INVALID_REQUEST when the request fails the schema, and checks the response schema", async () => {
      const strict = defineRequestSubject<Place, Placement>(unique("strict"), {
        request: {
          parse(input) {
            const cpu = (input as Partial<Place> | null)?.cpu;
            if (typeof cpu !== "number") throw new TypeError("cpu must be a number");
            return { cpu };
          },
        },
        response: {
          parse(input) {
            if (typeof (input as Partial<Placement> | null)?.nodeId !== "string") throw new TypeError("bad placement");
            return input as Placement;
          },
        },
      });
      const sub = other.reply(strict, (request) =>
        request.cpu === 0 ? ({ nodeId: 5 } as unknown as Placement) : { nodeId: "n", cpu: request.cpu },
      );
      await other.flush();
      await assert.rejects(bus.request(strict, { cpu: "lots" } as unknown as Place), (error: unknown) => {
        assert.ok(error instanceof BusRequestError);
        assert.equal(error.code, "INVALID_REQUEST");
        assert.match(error.replyMessage, /cpu must be a number/);
        return true;
      });
      await assert.rejects(bus.request(strict, { cpu: 0 }), (error: unknown) => {
        assert.ok(error instanceof BusRequestError);
        assert.equal(error.code, "INVALID_RESPONSE");
        return true;
      });
      assert.deepEqual(await bus.request(strict, { cpu: 2 }), { nodeId: "n", cpu: 2 });
      await sub.drain();
    });

    it("times out when the replier does not answer in time", async () => {
      const slow = defineRequestSubject<Place, Placement>(unique("slow"));
      const sub = other.reply(slow, async (request) => {
        await new Promise((resolve) => setTimeout(resolve, 500));
        return { nodeId: "late", cpu: request.cpu };
      });
      await other.flush();
      const started = performance.now();
      await assert.rejects(bus.request(slow, { cpu: 1 }, { timeoutMs: 100 }), (error: unknown) => {
        assert.ok(error instanceof BusTimeoutError);
        assert.equal(error.timeoutMs, 100);
        assert.equal(error.retryable, true);
        return true;
      });
      assert.ok(performance.now() - started < 450);
      await sub.drain();
    });

    it("fails fast with BusNoRespondersError when nobody listens", async () => {
      const nobody = defineRequestSubject<Place, Placement>(unique("nobody"));
      const started = performance.now();
      await assert.rejects(bus.request(nobody, { cpu: 1 }, { timeoutMs: 3_000 }), BusNoRespondersError);
      assert.ok(performance.now() - started < 1_000);
    });
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

  it("propagates the trace through request/reply", async () => {
    const ask = defineRequestSubject<null, string | undefined>(unique("traced-request"));
    const sub = other.reply(ask, () => activeTraceIds()?.traceId);
    await other.flush();
    const { traceId, answered } = await trace.getTracer("test").startActiveSpan("ask", async (span) => {
      const answer = await bus.request(ask, null);
      span.end();
      return { traceId: span.spanContext().traceId, answered: answer };
    });
    assert.equal(answered, traceId);
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
    assert.equal(draining.nc.isClosed(), true);
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

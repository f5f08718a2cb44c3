import { describe, it, before, after, beforeEach } from "node:test";
import assert from "node:assert/strict";
import { context, SpanKind, SpanStatusCode, trace } from "@opentelemetry/api";
import { startTestTelemetry, type TestTelemetry } from "./testing.js";
import {
  activeTraceIds,
  extractTraceContext,
  injectTraceContext,
  startConsumerSpan,
  withExtractedContext,
  withProducerSpan,
} from "./trace-context.js";

const TRACEPARENT = /^00-([0-9a-f]{32})-([0-9a-f]{16})-0[01]$/;

describe("trace context helpers", () => {
  let telemetry: TestTelemetry;
  before(() => {
    telemetry = startTestTelemetry();
  });
  beforeEach(() => telemetry.reset());
  after(async () => {
    await telemetry.shutdown();
  });

  it("given no active span, when injecting, then the carrier is empty", () => {
    assert.deepEqual(injectTraceContext(), {});
  });

  it("given an active span, when injecting, then traceparent names its trace and span", () => {
    const tracer = trace.getTracer("test");
    tracer.startActiveSpan("producer", (span) => {
      const carrier = injectTraceContext();
      const match = TRACEPARENT.exec(carrier.traceparent ?? "");
      assert.ok(match, `bad traceparent ${carrier.traceparent}`);
      assert.equal(match[1], span.spanContext().traceId);
      assert.equal(match[2], span.spanContext().spanId);
      span.end();
    });
  });

  it("round trip: a consumer span started from the carrier is a CONSUMER child in the same trace", async () => {
    const tracer = trace.getTracer("test");
    const producer = tracer.startSpan("producer");
    const carrier = injectTraceContext(trace.setSpan(context.active(), producer));
    producer.end();

    const seen = await startConsumerSpan("process thing", carrier, (span) => {
      assert.deepEqual(activeTraceIds(), { traceId: span.spanContext().traceId, spanId: span.spanContext().spanId });
      return span.spanContext();
    });

    assert.equal(seen.traceId, producer.spanContext().traceId);
    const consumer = (await telemetry.spans()).find((span) => span.name === "process thing");
    assert.ok(consumer);
    assert.equal(consumer.kind, SpanKind.CONSUMER);
    assert.equal(consumer.spanContext().traceId, producer.spanContext().traceId);
    assert.equal(consumer.parentSpanContext?.spanId, producer.spanContext().spanId);
    assert.equal(consumer.parentSpanContext?.isRemote, true);
  });

  it("reads carrier keys case-insensitively and keeps tracestate", () => {
    const traceId = "4bf92f3577b34da6a3ce929d0e0e4736";
    const carrier = { Traceparent: `00-${traceId}-00f067aa0ba902b7-01`, TraceState: "eas=1" };
    const ctx = extractTraceContext(carrier);
    assert.equal(trace.getSpanContext(ctx)?.traceId, traceId);
    assert.deepEqual(injectTraceContext(ctx), { traceparent: carrier.Traceparent, tracestate: "eas=1" });
  });

  it("withExtractedContext runs fn with the remote parent active", () => {
    const traceId = "0af7651916cd43dd8448eb211c80319c";
    const ids = withExtractedContext({ traceparent: `00-${traceId}-b7ad6b7169203331-01` }, () => activeTraceIds());
    assert.deepEqual(ids, { traceId, spanId: "b7ad6b7169203331" });
  });

  it("given no or a malformed traceparent, then the consumer span starts a new trace", async () => {
    for (const carrier of [{}, { traceparent: "garbage" }]) {
      const traceId = await startConsumerSpan("orphan", carrier, (span) => span.spanContext().traceId);
      assert.match(traceId, /^[0-9a-f]{32}$/);
      const span = (await telemetry.spans()).at(-1);
      assert.equal(span?.parentSpanContext, undefined);
    }
  });

  it("given a failing handler, then the consumer span is marked as error and the error is rethrown", async () => {
    await assert.rejects(
      startConsumerSpan("fails", {}, async () => {
        throw new Error("nope");
      }),
      /nope/,
    );
    const span = (await telemetry.spans()).find((candidate) => candidate.name === "fails");
    assert.equal(span?.status.code, SpanStatusCode.ERROR);
    assert.equal(span?.events[0]?.name, "exception");
  });

  it("withProducerSpan ends a promised span when it settles and hands over its own context", async () => {
    const tracer = trace.getTracer("test");
    await tracer.startActiveSpan("parent", async (parent) => {
      const carrier = await withProducerSpan(
        "send",
        async (sent) => {
          await new Promise((resolve) => setTimeout(resolve, 5));
          assert.equal(
            (await telemetry.spans()).some((span) => span.name === "send"),
            false,
          );
          return sent;
        },
        { kind: SpanKind.CLIENT },
      );
      parent.end();
      const send = (await telemetry.spans()).find((span) => span.name === "send");
      assert.ok(send);
      assert.equal(send.kind, SpanKind.CLIENT);
      assert.equal(send.parentSpanContext?.spanId, parent.spanContext().spanId);
      assert.equal(TRACEPARENT.exec(carrier.traceparent ?? "")?.[2], send.spanContext().spanId);
    });
  });
});

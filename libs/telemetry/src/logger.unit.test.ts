import { describe, it, before, after } from "node:test";
import assert from "node:assert/strict";
import { trace } from "@opentelemetry/api";
import { createLogger, InvalidLogLevelError, type Logger } from "./logger.js";
import { startTestTelemetry, type TestTelemetry } from "./testing.js";

/** A pino destination that keeps every line, parsed. */
function captureLines(): { lines: Record<string, unknown>[]; stream: { write(chunk: string): void } } {
  const lines: Record<string, unknown>[] = [];
  return {
    lines,
    stream: {
      write(chunk: string) {
        for (const line of chunk.split("\n")) if (line) lines.push(JSON.parse(line) as Record<string, unknown>);
      },
    },
  };
}

describe("createLogger", () => {
  let telemetry: TestTelemetry;
  before(() => {
    telemetry = startTestTelemetry();
  });
  after(async () => {
    await telemetry.shutdown();
  });

  it("given an active span, when logging, then the line carries its trace_id, span_id and the service", () => {
    const { lines, stream } = captureLines();
    const logger = createLogger({ name: "eas-deployer", level: "info", destination: stream });
    const tracer = trace.getTracer("test");
    let ids: { traceId: string; spanId: string } | undefined;
    tracer.startActiveSpan("work", (span) => {
      ids = span.spanContext();
      logger.info({ serviceId: "svc-1" }, "deploying");
      span.end();
    });
    assert.equal(lines.length, 1);
    const line = lines[0]!;
    assert.equal(line.msg, "deploying");
    assert.equal(line.level, "info");
    assert.equal(line.service, "eas-deployer");
    assert.equal(line.serviceId, "svc-1");
    assert.match(String(line.trace_id), /^[0-9a-f]{32}$/);
    assert.equal(line.trace_id, ids?.traceId);
    assert.equal(line.span_id, ids?.spanId);
    assert.match(String(line.time), /^\d{4}-\d\d-\d\dT/);
  });

  it("given a child logger inside an async span, when logging after an await, then the ids are still there", async () => {
    const { lines, stream } = captureLines();
    const logger: Logger = createLogger({ name: "eas-agent", level: "debug", destination: stream }).child({
      component: "runner",
    });
    const tracer = trace.getTracer("test");
    const traceId = await tracer.startActiveSpan("async work", async (span) => {
      await new Promise((resolve) => setTimeout(resolve, 5));
      logger.debug("after await");
      span.end();
      return span.spanContext().traceId;
    });
    assert.equal(lines[0]?.trace_id, traceId);
    assert.equal(lines[0]?.component, "runner");
  });

  it("given no active span, when logging, then the line has no trace fields", () => {
    const { lines, stream } = captureLines();
    createLogger({ name: "eas-gateway", level: "info", destination: stream }).info("idle");
    assert.equal(lines.length, 1);
    assert.equal("trace_id" in lines[0]!, false);
    assert.equal("span_id" in lines[0]!, false);
    assert.equal(lines[0]!.service, "eas-gateway");
  });

  it("takes the level from EAS_LOG_LEVEL when none is given", () => {
    const { lines, stream } = captureLines();
    const logger = createLogger({ name: "svc", env: { EAS_LOG_LEVEL: "WARN" }, destination: stream });
    logger.info("dropped");
    logger.warn("kept");
    assert.deepEqual(
      lines.map((line) => line.msg),
      ["kept"],
    );
    assert.equal(createLogger({ name: "svc", env: {}, destination: stream }).level, "info");
  });

  it("rejects an unknown level", () => {
    assert.throws(() => createLogger({ name: "svc", env: { EAS_LOG_LEVEL: "loud" } }), InvalidLogLevelError);
  });
});

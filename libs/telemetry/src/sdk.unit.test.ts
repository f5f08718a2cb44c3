import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { trace } from "@opentelemetry/api";
import { InMemorySpanExporter } from "@opentelemetry/sdk-trace-base";
import { otlpTracesUrlFrom, startTelemetry, TelemetryAlreadyStartedError } from "./sdk.js";
import { injectTraceContext } from "./trace-context.js";

describe("otlpTracesUrlFrom", () => {
  const cases: [string, Record<string, string>, string | undefined][] = [
    ["nothing set", {}, undefined],
    ["blank endpoint", { OTEL_EXPORTER_OTLP_ENDPOINT: " " }, undefined],
    ["base endpoint", { OTEL_EXPORTER_OTLP_ENDPOINT: "http://jaeger:4318" }, "http://jaeger:4318/v1/traces"],
    ["base endpoint with slash", { OTEL_EXPORTER_OTLP_ENDPOINT: "http://jaeger:4318/" }, "http://jaeger:4318/v1/traces"],
    [
      "traces endpoint wins, used as is",
      { OTEL_EXPORTER_OTLP_ENDPOINT: "http://a:4318", OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: "http://b:4318/custom" },
      "http://b:4318/custom",
    ],
  ];
  for (const [name, env, expected] of cases) {
    it(name, () => assert.equal(otlpTracesUrlFrom(env), expected));
  }
});

describe("startTelemetry", () => {
  it("given no OTLP endpoint, then spans still get trace ids in-process and nothing is exported", async () => {
    const telemetry = startTelemetry({ serviceName: "eas-test", env: {}, instrumentation: false });
    try {
      assert.equal(telemetry.spanExport, "none");
      assert.equal(telemetry.otlpTracesUrl, undefined);
      telemetry.tracer().startActiveSpan("in-process", (span) => {
        assert.equal(span.isRecording(), true);
        assert.match(injectTraceContext().traceparent ?? "", /^00-[0-9a-f]{32}-/);
        span.end();
      });
    } finally {
      await telemetry.shutdown();
    }
  });

  it("refuses a second start until the first is shut down, then starts clean", async () => {
    const first = startTelemetry({ serviceName: "first", env: {}, instrumentation: false });
    assert.throws(() => startTelemetry({ serviceName: "second", env: {} }), TelemetryAlreadyStartedError);
    await first.shutdown();
    await first.shutdown();

    const exporter = new InMemorySpanExporter();
    const second = startTelemetry({
      serviceName: "second",
      serviceVersion: "1.2.3",
      env: {},
      spanExporter: exporter,
      instrumentation: false,
    });
    try {
      assert.equal(second.spanExport, "exporter");
      trace.getTracer("test").startSpan("after restart").end();
      await second.forceFlush();
      const [span] = exporter.getFinishedSpans();
      assert.equal(span?.name, "after restart");
      assert.equal(span?.resource.attributes["service.name"], "second");
      assert.equal(span?.resource.attributes["service.version"], "1.2.3");
    } finally {
      await second.shutdown();
    }
  });
});

import { InMemorySpanExporter, type ReadableSpan } from "@opentelemetry/sdk-trace-base";
import { startTelemetry, type Telemetry, type TelemetryOptions } from "./sdk.js";

export { InMemorySpanExporter };
export type { ReadableSpan };

/** A started {@link Telemetry} whose spans are kept in memory for assertions. */
export interface TestTelemetry {
  readonly telemetry: Telemetry;
  readonly exporter: InMemorySpanExporter;
  /** Spans ended so far, oldest first, once pending exports have settled. */
  spans(): Promise<ReadableSpan[]>;
  /** Forgets the spans ended so far. */
  reset(): void;
  shutdown(): Promise<void>;
}

/**
 * Starts telemetry for a test process with an in-memory exporter and no OTLP export
 * (even when `OTEL_EXPORTER_OTLP_ENDPOINT` is set around the test run).
 */
export function startTestTelemetry(options: Partial<TelemetryOptions> = {}): TestTelemetry {
  const exporter = new InMemorySpanExporter();
  const telemetry = startTelemetry({
    serviceName: "eas-test",
    instrumentation: false,
    detectResources: false,
    env: {},
    ...options,
    spanExporter: exporter,
  });
  return {
    telemetry,
    exporter,
    async spans() {
      await telemetry.forceFlush();
      return exporter.getFinishedSpans();
    },
    reset: () => exporter.reset(),
    shutdown: () => telemetry.shutdown(),
  };
}

import { context, propagation, trace, type Tracer } from "@opentelemetry/api";
import { OTLPTraceExporter } from "@opentelemetry/exporter-trace-otlp-http";
import { GrpcInstrumentation } from "@opentelemetry/instrumentation-grpc";
import { HttpInstrumentation } from "@opentelemetry/instrumentation-http";
import { resourceFromAttributes } from "@opentelemetry/resources";
import { NodeSDK } from "@opentelemetry/sdk-node";
import {
  BatchSpanProcessor,
  NoopSpanProcessor,
  SimpleSpanProcessor,
  type SpanExporter,
  type SpanProcessor,
} from "@opentelemetry/sdk-trace-base";
import { ATTR_SERVICE_NAME, ATTR_SERVICE_VERSION } from "@opentelemetry/semantic-conventions";
import type { Instrumentation } from "@opentelemetry/instrumentation";

/** Environment variables, as `process.env` holds them. */
export type EnvironmentVariables = Readonly<Record<string, string | undefined>>;

/** Options of {@link startTelemetry}. */
export interface TelemetryOptions {
  /** `service.name` of every span, e.g. `eas-deployer`. */
  serviceName: string;
  /** `service.version` of every span. */
  serviceVersion?: string;
  /**
   * Environment variables to read `OTEL_EXPORTER_OTLP_ENDPOINT` and
   * `OTEL_EXPORTER_OTLP_TRACES_ENDPOINT` from; defaults to `process.env`.
   */
  env?: EnvironmentVariables;
  /**
   * Also hand every ended span, synchronously, to this exporter (for tests:
   * an `InMemorySpanExporter` from `@eas/telemetry/testing`). Works alongside OTLP export.
   */
  spanExporter?: SpanExporter;
  /** HTTP and gRPC auto-instrumentation; on by default. */
  instrumentation?: boolean;
  /**
   * Detect host, process and `OTEL_RESOURCE_ATTRIBUTES` resource attributes; on by
   * default. Some resolve asynchronously, which delays the first export a little.
   */
  detectResources?: boolean;
}

/** Where ended spans go. */
export type SpanExport = "otlp" | "exporter" | "otlp+exporter" | "none";

/** A started OpenTelemetry SDK. Call {@link Telemetry.shutdown} once, in the "flush" shutdown phase. */
export interface Telemetry {
  readonly serviceName: string;
  /** Where ended spans go; "none" still creates spans, so trace ids reach logs and NATS headers. */
  readonly spanExport: SpanExport;
  /** The OTLP/HTTP traces URL when exporting, e.g. `http://jaeger:4318/v1/traces`. */
  readonly otlpTracesUrl: string | undefined;
  /** A tracer named after the instrumenting module; defaults to the service name. */
  tracer(name?: string): Tracer;
  /** Exports spans that are still buffered. */
  forceFlush(): Promise<void>;
  /**
   * Flushes and stops the SDK, then unregisters the global tracer provider,
   * context manager and propagator so a later {@link startTelemetry} in the same process starts clean.
   */
  shutdown(): Promise<void>;
}

/** Thrown by {@link startTelemetry} when an SDK started by it is still running in this process. */
export class TelemetryAlreadyStartedError extends Error {
  override readonly name = "TelemetryAlreadyStartedError";
  constructor(readonly runningServiceName: string) {
    super(`telemetry is already started in this process (service ${runningServiceName}); shut it down first`);
  }
}

// OpenTelemetry's API keeps its providers in process globals; this mirrors that
// single slot so a second start fails loudly instead of silently keeping the first provider.
let running: string | undefined;

/**
 * Starts the OpenTelemetry Node SDK for one service process: W3C trace-context
 * propagation, async-local context, HTTP and gRPC auto-instrumentation, and
 * OTLP/HTTP trace export only when `OTEL_EXPORTER_OTLP_ENDPOINT` (or
 * `OTEL_EXPORTER_OTLP_TRACES_ENDPOINT`) is set. Metrics and logs are not exported
 * through OpenTelemetry (Prometheus and pino do that).
 *
 * Call it before the modules that load `@grpc/grpc-js` or `node:http` are imported
 * (dynamic `import()` after it), and under ESM load `@eas/telemetry/register` first
 * (see the package README) or gRPC spans are missing.
 */
export function startTelemetry(options: TelemetryOptions): Telemetry {
  if (running !== undefined) throw new TelemetryAlreadyStartedError(running);
  const env = options.env ?? process.env;
  const otlpTracesUrl = otlpTracesUrlFrom(env);
  const spanProcessors: SpanProcessor[] = [];
  if (options.spanExporter) spanProcessors.push(new SimpleSpanProcessor(options.spanExporter));
  if (otlpTracesUrl) spanProcessors.push(new BatchSpanProcessor(new OTLPTraceExporter({ url: otlpTracesUrl })));
  // The SDK registers no tracer provider without a processor, and then no span
  // (hence no trace id for logs and headers) would exist; a no-op processor keeps tracing in-process.
  if (spanProcessors.length === 0) spanProcessors.push(new NoopSpanProcessor());

  const attributes: Record<string, string> = { [ATTR_SERVICE_NAME]: options.serviceName };
  if (options.serviceVersion) attributes[ATTR_SERVICE_VERSION] = options.serviceVersion;
  const sdk = new NodeSDK({
    serviceName: options.serviceName,
    resource: resourceFromAttributes(attributes),
    autoDetectResources: options.detectResources ?? true,
    spanProcessors,
    // Empty lists on purpose: left undefined, the SDK would default to OTLP
    // metric and log exporters that push to localhost:4318 every minute.
    metricReaders: [],
    logRecordProcessors: [],
    instrumentations: options.instrumentation === false ? [] : defaultInstrumentations(),
  });
  sdk.start();
  running = options.serviceName;

  const spanExport: SpanExport =
    otlpTracesUrl && options.spanExporter ? "otlp+exporter" : otlpTracesUrl ? "otlp" : options.spanExporter ? "exporter" : "none";
  let shutdown: Promise<void> | undefined;
  return {
    serviceName: options.serviceName,
    spanExport,
    otlpTracesUrl,
    tracer: (name) => trace.getTracer(name ?? options.serviceName, options.serviceVersion),
    async forceFlush() {
      await Promise.all(spanProcessors.map((processor) => processor.forceFlush()));
    },
    shutdown() {
      shutdown ??= sdk.shutdown().finally(() => {
        trace.disable();
        context.disable();
        propagation.disable();
        running = undefined;
      });
      return shutdown;
    },
  };
}

/** The OTLP/HTTP traces URL that the standard OTLP variables describe, or undefined when none is set. */
export function otlpTracesUrlFrom(env: EnvironmentVariables): string | undefined {
  const tracesEndpoint = env.OTEL_EXPORTER_OTLP_TRACES_ENDPOINT?.trim();
  if (tracesEndpoint) return tracesEndpoint;
  const endpoint = env.OTEL_EXPORTER_OTLP_ENDPOINT?.trim();
  if (!endpoint) return undefined;
  // Per the OTLP spec the generic endpoint is a base URL and the signal path is appended.
  return `${endpoint.replace(/\/+$/, "")}/v1/traces`;
}

const UNTRACED_PATHS = ["/metrics", "/healthz", "/readyz", "/livez"];

function defaultInstrumentations(): Instrumentation[] {
  return [
    new HttpInstrumentation({
      // Scrapes and probes every few seconds would bury the traces that matter.
      ignoreIncomingRequestHook: (request) => {
        const path = (request.url ?? "").split("?")[0] ?? "";
        return UNTRACED_PATHS.includes(path);
      },
    }),
    new GrpcInstrumentation(),
  ];
}

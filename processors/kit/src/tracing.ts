import { subscribe, unsubscribe } from "node:diagnostics_channel";
import type { IncomingMessage, ServerResponse } from "node:http";
import { SpanKind, SpanStatusCode } from "@opentelemetry/api";
import type { ProcessorEnv } from "./run.js";

/** Whether spans are exported: the same variables `@eas/telemetry` reads (the agent passes them on). */
export function tracesExported(env: ProcessorEnv): boolean {
  return Boolean(env.OTEL_EXPORTER_OTLP_TRACES_ENDPOINT?.trim() || env.OTEL_EXPORTER_OTLP_ENDPOINT?.trim());
}

/**
 * When spans are exported, gives every HTTP request the processor serves a SERVER span that continues the
 * caller's `traceparent` (the gateway's upstream span), so a request is one trace from the gateway into the
 * instance. Hooks Node's `http.server.request.start` diagnostics channel: no processor code changes, and
 * nothing is loaded or hooked when tracing is off. The service name is the EAS service's. Returns the
 * function that unhooks and flushes, or undefined when off.
 */
export async function startRequestTracing(env: ProcessorEnv, processor: string): Promise<(() => Promise<void>) | undefined> {
  if (!tracesExported(env)) return undefined;
  // Loaded only here: the OpenTelemetry SDK costs start-up time a processor without tracing need not pay.
  const { startTelemetry, extractTraceContext } = await import("@eas/telemetry");
  const telemetry = startTelemetry({
    serviceName: env.EAS_SERVICE_NAME || `eas-${processor}`,
    ...(env.EAS_SERVICE_VERSION ? { serviceVersion: env.EAS_SERVICE_VERSION } : {}),
    env,
    instrumentation: false,
    detectResources: false,
  });
  const tracer = telemetry.tracer("@eas/processor-kit");
  const onRequest = (message: unknown) => {
    const { request, response } = message as { request: IncomingMessage; response: ServerResponse };
    const carrier = { traceparent: header(request, "traceparent"), tracestate: header(request, "tracestate") };
    const span = tracer.startSpan(
      request.method ?? "HTTP",
      {
        kind: SpanKind.SERVER,
        attributes: {
          "http.request.method": request.method ?? "",
          "url.path": (request.url ?? "/").split("?")[0]!,
          "eas.processor": processor,
          ...(env.EAS_INSTANCE_ID ? { "eas.instance_id": env.EAS_INSTANCE_ID } : {}),
        },
      },
      extractTraceContext(carrier),
    );
    // "close" follows "finish", and also comes when the client went away first.
    response.once("close", () => {
      span.setAttribute("http.response.status_code", response.statusCode);
      if (response.statusCode >= 500 || !response.writableFinished) {
        span.setStatus({
          code: SpanStatusCode.ERROR,
          message: response.writableFinished ? `HTTP ${response.statusCode}` : "connection closed",
        });
      }
      span.end();
    });
  };
  subscribe("http.server.request.start", onRequest);
  return async () => {
    unsubscribe("http.server.request.start", onRequest);
    await telemetry.shutdown();
  };
}

function header(request: IncomingMessage, name: string): string | undefined {
  const value = request.headers[name];
  return Array.isArray(value) ? value[0] : value;
}

import { subscribe, unsubscribe } from "node:diagnostics_channel";
import { context, SpanKind, SpanStatusCode, trace, type Span } from "@opentelemetry/api";
import { injectTraceContext, recordError } from "@eas/telemetry";

/** What this module reads of undici's request object on its diagnostics channels (undici 7). */
interface UndiciRequest {
  origin: string | URL;
  method: string;
  path: string;
  /** Flat `[name, value, ...]`, names as the caller wrote them. */
  headers: (string | string[])[];
  addHeader(name: string, value: string): unknown;
}

/**
 * Gives every upstream request of the gateway a CLIENT span, child of the active context at dispatch (the
 * request's server span: the gateway restores it when it dispatches a queued request), and sends that span
 * as the `traceparent` the instance joins; a client's own `traceparent` continues through the gateway's
 * server span instead of skipping it. Hooks undici's diagnostics channels, so the proxy's hot path is
 * untouched when tracing is off. Returns the function that unhooks.
 */
export function traceUpstreamRequests(): () => void {
  const tracer = trace.getTracer("@eas/gateway");
  const spans = new WeakMap<UndiciRequest, Span>();

  const onCreate = (message: unknown) => {
    const { request } = message as { request: UndiciRequest };
    const parent = context.active();
    const url = `${String(request.origin).replace(/\/$/, "")}${request.path}`;
    const span = tracer.startSpan(
      request.method,
      { kind: SpanKind.CLIENT, attributes: { "http.request.method": request.method, "url.full": url } },
      parent,
    );
    spans.set(request, span);
    const carrier = injectTraceContext(trace.setSpan(parent, span));
    if (carrier.traceparent) setHeader(request, "traceparent", carrier.traceparent);
    if (carrier.tracestate) setHeader(request, "tracestate", carrier.tracestate);
  };
  const onHeaders = (message: unknown) => {
    const { request, response } = message as { request: UndiciRequest; response: { statusCode: number } };
    const span = spans.get(request);
    span?.setAttribute("http.response.status_code", response.statusCode);
    if (response.statusCode >= 500) span?.setStatus({ code: SpanStatusCode.ERROR, message: `HTTP ${response.statusCode}` });
  };
  const onEnd = (message: unknown) => {
    const { request, error } = message as { request: UndiciRequest; error?: unknown };
    const span = spans.get(request);
    if (!span) return;
    spans.delete(request);
    if (error !== undefined) recordError(span, error);
    span.end();
  };

  const channels: [string, (message: unknown) => void][] = [
    ["undici:request:create", onCreate],
    ["undici:request:headers", onHeaders],
    ["undici:request:trailers", onEnd],
    ["undici:request:error", onEnd],
  ];
  for (const [name, listener] of channels) subscribe(name, listener);
  return () => {
    for (const [name, listener] of channels) unsubscribe(name, listener);
  };
}

/** Replaces the value of `name` (any case) in the request's headers, or adds it. */
function setHeader(request: UndiciRequest, name: string, value: string): void {
  const headers = request.headers;
  for (let i = 0; i + 1 < headers.length; i += 2) {
    if (String(headers[i]).toLowerCase() === name) {
      headers[i + 1] = value;
      return;
    }
  }
  request.addHeader(name, value);
}

import {
  context,
  ROOT_CONTEXT,
  SpanKind,
  SpanStatusCode,
  trace,
  type Attributes,
  type Context,
  type Span,
  type TextMapGetter,
} from "@opentelemetry/api";
import { W3CTraceContextPropagator } from "@opentelemetry/core";

/**
 * W3C trace-context fields as they ride in NATS headers and event metadata.
 * (A type alias, not an interface, so that it is assignable to {@link TraceCarrierSource}.)
 */
export type TraceCarrier = {
  traceparent?: string;
  tracestate?: string;
};

/** Any string map that may hold a W3C `traceparent` (and `tracestate`), e.g. NATS headers copied to a record or event metadata. */
export type TraceCarrierSource = Readonly<Record<string, string | undefined>>;

/** Trace and span id of a span, as logs carry them. */
export interface TraceIds {
  traceId: string;
  spanId: string;
}

/** Options of the span helpers. */
export interface SpanHelperOptions {
  attributes?: Attributes;
  /** Instrumentation scope of the span; defaults to `@eas/telemetry`. */
  tracerName?: string;
}

const DEFAULT_TRACER = "@eas/telemetry";

// Explicitly W3C (not the global propagator) because the carrier fields are named
// after it and must stay so even if OTEL_PROPAGATORS selects another format for HTTP.
const w3c = new W3CTraceContextPropagator();

const caseInsensitiveGetter: TextMapGetter<TraceCarrierSource> = {
  keys: (carrier) => Object.keys(carrier),
  get: (carrier, key) => {
    const exact = carrier[key];
    if (exact !== undefined) return exact;
    const wanted = key.toLowerCase();
    for (const [name, value] of Object.entries(carrier)) if (name.toLowerCase() === wanted) return value;
    return undefined;
  },
};

/**
 * The W3C trace context of `ctx` (the active context by default), ready to put in
 * NATS headers or event metadata; empty when no valid span is active.
 */
export function injectTraceContext(ctx: Context = context.active()): TraceCarrier {
  const fields: Record<string, string> = {};
  w3c.inject(ctx, fields, {
    set: (carrier, key, value) => {
      carrier[key] = value;
    },
  });
  const carrier: TraceCarrier = {};
  if (fields.traceparent) carrier.traceparent = fields.traceparent;
  if (fields.tracestate) carrier.tracestate = fields.tracestate;
  return carrier;
}

/**
 * A context whose parent span is the remote one described by `carrier` (keys are
 * matched case-insensitively). Built on `base`, the root context by default, so a
 * consumer never nests under whatever happened to be active where the message arrived.
 * Without a valid `traceparent` it is `base` unchanged.
 */
export function extractTraceContext(carrier: TraceCarrierSource, base: Context = ROOT_CONTEXT): Context {
  return w3c.extract(base, carrier, caseInsensitiveGetter);
}

/** Runs `fn` with the remote parent from `carrier` as the active context. */
export function withExtractedContext<T>(carrier: TraceCarrierSource, fn: () => T): T {
  return context.with(extractTraceContext(carrier), fn);
}

/**
 * Runs `fn` inside a new CONSUMER span whose parent is the remote span in
 * `carrier` (a root span when there is none). The span ends when `fn` settles;
 * a throw or rejection is recorded on it and rethrown.
 */
export async function startConsumerSpan<T>(
  name: string,
  carrier: TraceCarrierSource,
  fn: (span: Span) => Promise<T> | T,
  options: SpanHelperOptions = {},
): Promise<T> {
  const tracer = trace.getTracer(options.tracerName ?? DEFAULT_TRACER);
  const parent = extractTraceContext(carrier);
  const span = tracer.startSpan(name, { kind: SpanKind.CONSUMER, attributes: options.attributes }, parent);
  try {
    return await context.with(trace.setSpan(parent, span), () => fn(span));
  } catch (error) {
    recordError(span, error);
    throw error;
  } finally {
    span.end();
  }
}

/**
 * Runs `fn` inside a new span (PRODUCER by default, CLIENT for request/reply)
 * that is a child of the active span, passing it the carrier to send along.
 * When `fn` returns a promise the span ends once it settles, otherwise at once.
 */
export function withProducerSpan<T>(
  name: string,
  fn: (carrier: TraceCarrier, span: Span) => T,
  options: SpanHelperOptions & { kind?: typeof SpanKind.PRODUCER | typeof SpanKind.CLIENT } = {},
): T {
  const tracer = trace.getTracer(options.tracerName ?? DEFAULT_TRACER);
  const span = tracer.startSpan(name, { kind: options.kind ?? SpanKind.PRODUCER, attributes: options.attributes });
  const ctx = trace.setSpan(context.active(), span);
  let result: T;
  try {
    result = context.with(ctx, () => fn(injectTraceContext(ctx), span));
  } catch (error) {
    recordError(span, error);
    span.end();
    throw error;
  }
  if (isPromiseLike(result)) {
    return result.then(
      (value) => {
        span.end();
        return value;
      },
      (error: unknown) => {
        recordError(span, error);
        span.end();
        throw error;
      },
    ) as T;
  }
  span.end();
  return result;
}

/** Trace and span id of the active span, or undefined outside a valid span. */
export function activeTraceIds(ctx: Context = context.active()): TraceIds | undefined {
  const spanContext = trace.getSpan(ctx)?.spanContext();
  if (!spanContext || !trace.isSpanContextValid(spanContext)) return undefined;
  return { traceId: spanContext.traceId, spanId: spanContext.spanId };
}

/** Marks `span` as failed with `error`. */
export function recordError(span: Span, error: unknown): void {
  if (error instanceof Error) {
    span.recordException(error);
    span.setStatus({ code: SpanStatusCode.ERROR, message: error.message });
  } else {
    span.setStatus({ code: SpanStatusCode.ERROR, message: String(error) });
  }
}

function isPromiseLike(value: unknown): value is PromiseLike<unknown> {
  return typeof value === "object" && value !== null && typeof (value as { then?: unknown }).then === "function";
}

import { context, propagation } from "@opentelemetry/api";
import type { EventMetadata, NewEvent } from "./types.js";

/**
 * Fills `traceparent`/`tracestate` from the active OpenTelemetry context when the caller set none, so that
 * a consumer can continue the trace of the operation that appended the event. Without a registered
 * propagator (no telemetry SDK) this is a no-op.
 */
export function withActiveTraceContext(event: NewEvent): NewEvent {
  if (event.metadata?.traceparent) return event;
  const carrier: Record<string, string> = {};
  propagation.inject(context.active(), carrier);
  if (!carrier.traceparent) return event;
  const metadata: EventMetadata = { ...event.metadata, traceparent: carrier.traceparent };
  if (carrier.tracestate && !metadata.tracestate) metadata.tracestate = carrier.tracestate;
  return { ...event, metadata };
}

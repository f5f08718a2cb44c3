// How a NATS message maps to the bus's conventions: trace headers, OpenTelemetry messaging attributes, bus errors.
import type { Attributes } from "@opentelemetry/api";
import { errors as natsErrors, headers as natsHeaders, Match, type MsgHdrs } from "@nats-io/transport-node";
import type { TraceCarrier } from "@eas/telemetry";
import { BusUnavailableError, InvalidSubjectError } from "./errors.js";

export const TRACER = "@eas/bus";
const TRACE_HEADERS = ["traceparent", "tracestate"] as const;

export function headersFrom(carrier: TraceCarrier | undefined): MsgHdrs | undefined {
  if (!carrier?.traceparent) return undefined;
  const result = natsHeaders();
  for (const name of TRACE_HEADERS) {
    const value = carrier[name];
    if (value) result.set(name, value);
  }
  return result;
}

export function headerRecord(headers: MsgHdrs | undefined): Record<string, string> {
  const record: Record<string, string> = {};
  if (!headers) return record;
  for (const name of headers.keys()) record[name] = headers.get(name, Match.IgnoreCase);
  return record;
}

export function messagingAttributes(subject: string, operation: "send" | "process"): Attributes {
  return {
    "messaging.system": "nats",
    "messaging.destination.name": subject,
    "messaging.operation.type": operation,
  };
}

export function publishFailure(error: unknown, subject: string): Error {
  if (
    error instanceof natsErrors.ClosedConnectionError ||
    error instanceof natsErrors.DrainingConnectionError ||
    error instanceof natsErrors.RequestError ||
    error instanceof natsErrors.ConnectionError
  ) {
    return new BusUnavailableError(`NATS connection unavailable: ${error.message}`, subject, { cause: error });
  }
  if (error instanceof natsErrors.InvalidSubjectError) return new InvalidSubjectError(subject, error.message);
  return error instanceof Error ? error : new Error(String(error));
}

import { headers as natsHeaders, type MsgHdrs } from "@nats-io/transport-node";
import { EventStoreError } from "../errors.js";
import { compactMetadata } from "../stream-name.js";
import type { EventMetadata, JsonObject, NewEvent, RecordedEvent } from "../types.js";

/**
 * NATS header names of an event: CloudEvents 1.0 binary content mode (attributes as `ce-` headers,
 * `content-type` for datacontenttype), W3C trace context, and EAS's own extensions.
 */
export const EventHeaders = {
  specVersion: "ce-specversion",
  id: "ce-id",
  type: "ce-type",
  source: "ce-source",
  time: "ce-time",
  subject: "ce-subject",
  contentType: "content-type",
  traceparent: "traceparent",
  tracestate: "tracestate",
  revision: "eas-revision",
  /** Events of the same append still to come after this one; absent on the last (or only) one. */
  batchRemaining: "eas-batch-remaining",
  correlationId: "eas-correlation-id",
  causationId: "eas-causation-id",
} as const;

const SPEC_VERSION = "1.0";
const JSON_CONTENT_TYPE = "application/json";
const encoder = new TextEncoder();
const decoder = new TextDecoder();

/** What an encoded event looks like on NATS. */
export interface EncodedEvent {
  headers: MsgHdrs;
  body: Uint8Array;
}

/** Encodes one event of `stream` at `revision` as a CloudEvent in binary mode. */
export function encodeEvent(
  event: NewEvent,
  stream: string,
  revision: number,
  defaults: { time: Date; source: string },
  batchRemaining = 0,
): EncodedEvent {
  const h = natsHeaders();
  const metadata = event.metadata ?? {};
  h.set(EventHeaders.specVersion, SPEC_VERSION);
  h.set(EventHeaders.id, event.id);
  h.set(EventHeaders.type, event.type);
  h.set(EventHeaders.source, metadata.source || defaults.source);
  h.set(EventHeaders.time, (event.time ?? defaults.time).toISOString());
  h.set(EventHeaders.subject, stream);
  h.set(EventHeaders.contentType, JSON_CONTENT_TYPE);
  if (metadata.traceparent) h.set(EventHeaders.traceparent, metadata.traceparent);
  if (metadata.tracestate) h.set(EventHeaders.tracestate, metadata.tracestate);
  h.set(EventHeaders.revision, String(revision));
  if (batchRemaining > 0) h.set(EventHeaders.batchRemaining, String(batchRemaining));
  if (metadata.correlationId) h.set(EventHeaders.correlationId, metadata.correlationId);
  if (metadata.causationId) h.set(EventHeaders.causationId, metadata.causationId);
  return { headers: h, body: encoder.encode(JSON.stringify(event.data)) };
}

/** A stored NATS message, as a consumer or a direct get returns it. */
export interface StoredMessage {
  subject: string;
  /** Stream sequence. */
  seq: number;
  headers: MsgHdrs | undefined;
  data: Uint8Array;
  /** Time the server stored the message; used when `ce-time` is missing. */
  storedAt: Date;
}

/** Decodes a message written by `encodeEvent`; the stream name comes from the subject. */
export function decodeEvent(message: StoredMessage, subjectPrefix: string): RecordedEvent {
  const h = message.headers;
  const required = (name: string): string => {
    const value = h?.get(name);
    if (!value) throw malformed(message, `header ${name} is missing`);
    return value;
  };
  const optional = (name: string): string | undefined => h?.get(name) || undefined;
  const revision = Number(required(EventHeaders.revision));
  if (!Number.isSafeInteger(revision) || revision < 0) throw malformed(message, `bad ${EventHeaders.revision}`);
  const timeHeader = optional(EventHeaders.time);
  const time = timeHeader === undefined ? message.storedAt : new Date(timeHeader);
  if (Number.isNaN(time.getTime())) throw malformed(message, `bad ${EventHeaders.time}`);
  let data: JsonObject;
  try {
    data = JSON.parse(decoder.decode(message.data)) as JsonObject;
  } catch (error) {
    throw malformed(message, `body is not JSON: ${(error as Error).message}`);
  }
  const metadata: EventMetadata = compactMetadata({
    source: optional(EventHeaders.source),
    traceparent: optional(EventHeaders.traceparent),
    tracestate: optional(EventHeaders.tracestate),
    correlationId: optional(EventHeaders.correlationId),
    causationId: optional(EventHeaders.causationId),
  });
  return {
    id: required(EventHeaders.id),
    type: required(EventHeaders.type),
    stream: streamOfSubject(message.subject, subjectPrefix),
    revision,
    position: message.seq,
    time,
    data,
    metadata,
  };
}

/** "eas.events.service.iris" -> "service-iris". */
export function streamOfSubject(subject: string, subjectPrefix: string): string {
  const rest = subject.startsWith(`${subjectPrefix}.`) ? subject.slice(subjectPrefix.length + 1) : "";
  const dot = rest.indexOf(".");
  if (dot <= 0 || dot === rest.length - 1 || rest.indexOf(".", dot + 1) !== -1) {
    throw new EventStoreError(`subject ${subject} is not an event subject under ${subjectPrefix}`, { retryable: false });
  }
  return `${rest.slice(0, dot)}-${rest.slice(dot + 1)}`;
}

/** "service-iris" -> "eas.events.service.iris" (the name must have been validated). */
export function subjectOfStream(category: string, id: string, subjectPrefix: string): string {
  return `${subjectPrefix}.${category}.${id}`;
}

function malformed(message: StoredMessage, why: string): EventStoreError {
  return new EventStoreError(`malformed event at position ${message.seq} on ${message.subject}: ${why}`, { retryable: false });
}

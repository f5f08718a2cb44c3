import type { EventMetadata, JsonObject, NewEvent, RecordedEvent } from "@eas/event-store";
import { EVENT_MESSAGES, EVENT_TYPE_PREFIX, isKnownEventType, type EasEvent, type EventName } from "./catalog.js";

interface JsonCodec {
  toJSON(message: never): unknown;
  fromJSON(object: unknown): unknown;
}

function codecFor(type: string): JsonCodec {
  return EVENT_MESSAGES[type.slice(EVENT_TYPE_PREFIX.length) as EventName] as unknown as JsonCodec;
}

/** proto3-JSON data of an event, as stored in the log. */
export function encodeEventData(event: EasEvent): JsonObject {
  return codecFor(event.type).toJSON(event.data as never) as JsonObject;
}

/** Turns a typed event into one to append; `id` must be stable across retries. */
export function toNewEvent(event: EasEvent, id: string, metadata?: EventMetadata, time?: Date): NewEvent {
  return {
    id,
    type: event.type,
    data: encodeEventData(event),
    ...(metadata ? { metadata } : {}),
    ...(time ? { time } : {}),
  };
}

/** A stored event decoded into the typed union; undefined for types this version does not know. */
export function decodeEvent(recorded: Pick<RecordedEvent, "type" | "data">): EasEvent | undefined {
  if (!isKnownEventType(recorded.type)) return undefined;
  return { type: recorded.type, data: codecFor(recorded.type).fromJSON(recorded.data) } as EasEvent;
}

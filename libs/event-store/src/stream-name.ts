import { InvalidEventError } from "./errors.js";
import type { EventMetadata, ExpectedRevision, NewEvent } from "./types.js";

/** A stream name split into its parts: "service-iris" is `{ category: "service", id: "iris" }`. */
export interface StreamName {
  category: string;
  id: string;
}

const CATEGORY = /^[A-Za-z0-9_]+$/;
const ID = /^[A-Za-z0-9_-]+$/;
const MAX_STREAM_NAME_LENGTH = 200;

/**
 * Splits "<category>-<id>" at the first '-'. The category is `[A-Za-z0-9_]+`, the id `[A-Za-z0-9_-]+`,
 * so both are safe as NATS subject tokens and as KurrentDB stream names.
 * @throws InvalidEventError when the name does not follow that shape.
 */
export function parseStreamName(stream: string): StreamName {
  if (typeof stream !== "string" || stream.length === 0) throw new InvalidEventError("stream name must be a non-empty string");
  if (stream.length > MAX_STREAM_NAME_LENGTH) {
    throw new InvalidEventError(`stream name longer than ${MAX_STREAM_NAME_LENGTH} characters: ${stream.slice(0, 40)}...`);
  }
  const dash = stream.indexOf("-");
  if (dash <= 0 || dash === stream.length - 1) {
    throw new InvalidEventError(`stream name must be "<category>-<id>", got ${JSON.stringify(stream)}`);
  }
  const category = stream.slice(0, dash);
  const id = stream.slice(dash + 1);
  if (!CATEGORY.test(category)) {
    throw new InvalidEventError(`stream category may contain [A-Za-z0-9_] only, got ${JSON.stringify(category)}`);
  }
  if (!ID.test(id)) throw new InvalidEventError(`stream id may contain [A-Za-z0-9_-] only, got ${JSON.stringify(id)}`);
  return { category, id };
}

/** Checks a category filter ("service") with the same rule as the category part of a stream name. */
export function validateCategory(category: string): void {
  if (typeof category !== "string" || !CATEGORY.test(category)) {
    throw new InvalidEventError(`category may contain [A-Za-z0-9_] only, got ${JSON.stringify(category)}`);
  }
}

const EVENT_ID = /^[A-Za-z0-9._:-]{1,128}$/;
const EVENT_TYPE = /^[A-Za-z0-9._:/-]{1,256}$/;
// Metadata travels in NATS headers and gRPC metadata: printable ASCII, no line breaks.
const HEADER_VALUE = /^[\x20-\x7e]{0,1024}$/;

/** Checks an expected revision: a revision >= 0 or one of "no_stream", "stream_exists", "any". */
export function validateExpectedRevision(expected: ExpectedRevision): void {
  if (expected === "no_stream" || expected === "stream_exists" || expected === "any") return;
  if (typeof expected !== "number" || !Number.isSafeInteger(expected) || expected < 0) {
    throw new InvalidEventError(
      `expectedRevision must be a revision >= 0, "no_stream", "stream_exists" or "any"; got ${JSON.stringify(expected)}`,
    );
  }
}

/**
 * Validates everything an append needs before any I/O, so that an invalid batch writes nothing:
 * the stream name, the expected revision, a non-empty batch, ids unique inside the batch,
 * types, JSON object data and header-safe metadata.
 */
export function validateAppend(stream: string, events: readonly NewEvent[], expected: ExpectedRevision): StreamName {
  const name = parseStreamName(stream);
  validateExpectedRevision(expected);
  if (!Array.isArray(events) || events.length === 0) throw new InvalidEventError("append needs at least one event");
  const ids = new Set<string>();
  for (const event of events) {
    if (typeof event.id !== "string" || !EVENT_ID.test(event.id)) {
      throw new InvalidEventError(`event id must match ${EVENT_ID.source}, got ${JSON.stringify(event.id)}`);
    }
    if (ids.has(event.id)) throw new InvalidEventError(`event id ${event.id} appears twice in one append`);
    ids.add(event.id);
    if (typeof event.type !== "string" || !EVENT_TYPE.test(event.type)) {
      throw new InvalidEventError(`event type must match ${EVENT_TYPE.source}, got ${JSON.stringify(event.type)}`);
    }
    if (typeof event.data !== "object" || event.data === null || Array.isArray(event.data)) {
      throw new InvalidEventError(`event ${event.id}: data must be a JSON object`);
    }
    if (event.time !== undefined && (!(event.time instanceof Date) || Number.isNaN(event.time.getTime()))) {
      throw new InvalidEventError(`event ${event.id}: time must be a valid Date`);
    }
    validateMetadata(event.id, event.metadata);
  }
  return name;
}

const METADATA_KEYS: readonly (keyof EventMetadata)[] = ["traceparent", "tracestate", "source", "correlationId", "causationId"];

function validateMetadata(eventId: string, metadata: EventMetadata | undefined): void {
  if (metadata === undefined) return;
  for (const key of METADATA_KEYS) {
    const value = metadata[key];
    if (value === undefined) continue;
    if (typeof value !== "string" || !HEADER_VALUE.test(value)) {
      throw new InvalidEventError(`event ${eventId}: metadata.${key} must be printable ASCII up to 1024 characters`);
    }
  }
}

/** The revision the first event of an append must get, when the expectation pins it down. */
export function expectedFirstRevision(expected: ExpectedRevision): number | undefined {
  if (expected === "no_stream") return 0;
  if (typeof expected === "number") return expected + 1;
  return undefined;
}

/** Whether a stream whose last revision is `current` (-1 when missing) satisfies the expectation. */
export function satisfies(expected: ExpectedRevision, current: number): boolean {
  if (expected === "any") return true;
  if (expected === "no_stream") return current === -1;
  if (expected === "stream_exists") return current >= 0;
  return current === expected;
}

/** The textual revision used in VersionConflictError: a number or "no_stream". */
export function describeRevision(current: number): string {
  return current < 0 ? "no_stream" : String(current);
}

/** Keeps only the metadata fields that are set, so that read-back metadata compares equal. */
export function compactMetadata(metadata: EventMetadata): EventMetadata {
  const out: EventMetadata = {};
  for (const key of METADATA_KEYS) {
    const value = metadata[key];
    if (value !== undefined && value !== "") out[key] = value;
  }
  return out;
}

/** Checks the numeric read options: revisions, positions and counts are integers >= 0. */
export function validateReadOptions(options: { fromRevision?: number; afterPosition?: number; maxCount?: number }): void {
  for (const key of ["fromRevision", "afterPosition", "maxCount"] as const) {
    const value = options[key];
    if (value !== undefined && (!Number.isSafeInteger(value) || value < 0)) {
      throw new InvalidEventError(`${key} must be an integer >= 0, got ${JSON.stringify(value)}`);
    }
  }
}

import * as z from "zod";

import { rule } from "./rules.js";

/*
 * An async service's queue (EAS `metadata.type: "Async"`): the document's `queue` section. docs/async.md says
 * what each setting does; here are their bounds and defaults.
 */

/** `metadata.type`: EAS's service types that deploy from service.json. */
export const SERVICE_TYPES = ["Standard", "Async"] as const;
export type ServiceType = (typeof SERVICE_TYPES)[number];

export const serviceType = rule(
  (value): value is ServiceType => typeof value === "string" && (SERVICE_TYPES as readonly string[]).includes(value),
  SERVICE_TYPES.map((type) => JSON.stringify(type)).join(" or "),
);

/**
 * Largest request body an async service may accept, in KiB: a queued request is one NATS message, and NATS's
 * default `max_payload` is 1 MiB; 64 KiB stay for the request's headers.
 */
export const MAX_ASYNC_PAYLOAD_KB = 960;
/** A ceiling that catches a typo in `max_length` before it becomes a stream limit. */
export const MAX_QUEUE_LENGTH = 10_000_000;
export const MAX_ATTEMPTS = 100;
/** A day: longer inference belongs in a batch job. */
export const MAX_REQUEST_TIMEOUT_MS = 86_400_000;
/** 30 days. */
export const MAX_RESULT_RETENTION_SECONDS = 30 * 86_400;

/** The queue settings where the document leaves them out. */
export const QUEUE_DEFAULTS = {
  maxLength: 10_000,
  maxPayloadKb: MAX_ASYNC_PAYLOAD_KB,
  maxAttempts: 3,
  /** 10 minutes. */
  requestTimeoutMs: 600_000,
  /** A day. */
  resultRetentionSeconds: 86_400,
} as const;

function between(min: number, max: number, unit = "") {
  return rule(
    (value): value is number => typeof value === "number" && Number.isInteger(value) && value >= min && value <= max,
    `an integer from ${min} to ${max}${unit}`,
  );
}

export const queueSchema = z.strictObject({
  /** Requests waiting at most; past it a submission is answered 450. */
  max_length: between(1, MAX_QUEUE_LENGTH).optional(),
  /** Largest request body, KiB; past it 413. */
  max_payload_size_kb: between(1, MAX_ASYNC_PAYLOAD_KB, ` (a request is one NATS message of at most 1 MiB)`).optional(),
  /** Attempts per request, the first included, before the dead-letter queue. */
  max_attempts: between(1, MAX_ATTEMPTS).optional(),
  /** Longest one attempt may take, ms. */
  request_timeout_ms: between(1, MAX_REQUEST_TIMEOUT_MS, " ms").optional(),
  /** How long results are kept, seconds. */
  result_retention_seconds: between(1, MAX_RESULT_RETENTION_SECONDS, " seconds").optional(),
});

export type QueueDocument = z.output<typeof queueSchema>;

import { AsyncResult } from "@eas/proto";

/*
 * What the gateway (which queues requests and reads results) and the async-queue (which owns the queues,
 * dispatches and stores results) agree on: where an async service's requests, results and dead letters live
 * on JetStream, the headers a queued request carries, and how a stored result is encoded (ADR 0029).
 */

/** The HTTP header that carries an async request's id (EAS's name), in the submission's answer and in results. */
export const REQUEST_ID_HEADER = "X-Eas-Queueservice-Request-Id";
/** The HTTP header a client sets to have the result POSTed to a URL of its own. */
export const CALLBACK_URL_HEADER = "X-Eas-Callback-Url";

/**
 * Request ids: tokens of `[A-Za-z0-9_-]`, joined by dots (a batch line is `<job id>.<line>`), at most 200
 * characters. They are NATS subject tokens and KV keys, so wildcards and spaces are excluded.
 */
export const REQUEST_ID_PATTERN = /^[A-Za-z0-9_-]+(\.[A-Za-z0-9_-]+)*$/;
export const MAX_REQUEST_ID_LENGTH = 200;

export function isRequestId(value: string): boolean {
  return value.length <= MAX_REQUEST_ID_LENGTH && REQUEST_ID_PATTERN.test(value);
}

/** Where one async service's queue lives. Service names (`[a-z][a-z0-9_]*`) are valid in every name below. */
export interface AsyncQueueLayout {
  readonly service: string;
  /** Work-queue stream holding the service's requests until their outcome is stored. */
  readonly stream: string;
  /** Every subject of {@link stream}. */
  readonly subjects: string;
  /** Durable pull consumers: priority requests (`_priority_`), then the others. */
  readonly priorityConsumer: string;
  readonly normalConsumer: string;
  readonly priorityFilter: string;
  readonly normalFilter: string;
  /** KV bucket of outcomes, key = request id, kept `result_retention_seconds` (the bucket's TTL). */
  readonly resultsBucket: string;
  /** Stream of dead letters: the original request with the reason, one per request id. */
  readonly deadLetterStream: string;
  readonly deadLetterSubjects: string;
  /** The subject a request is queued on. */
  requestSubject(requestId: string, priority: boolean): string;
  deadLetterSubject(requestId: string): string;
  /** The request id of a message of {@link stream} or {@link deadLetterStream}. */
  requestIdOf(subject: string): string;
}

const QUEUE_PREFIX = "eas.async.q";
const DEAD_LETTER_PREFIX = "eas.async.dl";

export function asyncQueueLayout(service: string): AsyncQueueLayout {
  const queue = `${QUEUE_PREFIX}.${service}`;
  const deadLetters = `${DEAD_LETTER_PREFIX}.${service}`;
  // Subjects are <prefix>.<service>.<p|n>.<request id...> and <prefix>.<service>.<request id...>.
  const queueIdStart = queue.length + 3;
  return {
    service,
    stream: `EAS_ASYNC_${service}`,
    subjects: `${queue}.>`,
    priorityConsumer: "priority",
    normalConsumer: "normal",
    priorityFilter: `${queue}.p.>`,
    normalFilter: `${queue}.n.>`,
    resultsBucket: `eas_async_results_${service}`,
    deadLetterStream: `EAS_ASYNC_DL_${service}`,
    deadLetterSubjects: `${deadLetters}.>`,
    requestSubject: (requestId, priority) => `${queue}.${priority ? "p" : "n"}.${requestId}`,
    deadLetterSubject: (requestId) => `${deadLetters}.${requestId}`,
    requestIdOf: (subject) => (subject.startsWith(`${deadLetters}.`) ? subject.slice(deadLetters.length + 1) : subject.slice(queueIdStart)),
  };
}

/** Streams of every service's queue start with this; what follows is the service name. */
export const ASYNC_QUEUE_STREAM_PREFIX = "EAS_ASYNC_";
export const ASYNC_DEAD_LETTER_STREAM_PREFIX = "EAS_ASYNC_DL_";
export const ASYNC_RESULTS_BUCKET_PREFIX = "eas_async_results_";

/** NATS headers of a queued request (and of its dead letter), besides `Nats-Msg-Id` (the request id). */
export const AsyncRequestHeader = {
  requestId: "Eas-Request-Id",
  method: "Eas-Method",
  /** What followed `/api/predict/<service>` (path and query, `_priority_` removed), e.g. "/v1/generate?n=2"; "" for none. */
  path: "Eas-Path",
  /** The client's end-to-end headers as JSON `[[name, value], ...]` (no Authorization, no hop-by-hop ones). */
  headers: "Eas-Headers",
  /** "1" for a priority request. */
  priority: "Eas-Priority",
  callbackUrl: "Eas-Callback-Url",
  /** Unix ms. */
  submittedAt: "Eas-Submitted-At",
  /** On dead letters: why, after how many attempts, when (ISO). */
  deadLetterReason: "Eas-Dead-Letter-Reason",
  attempts: "Eas-Attempts",
  deadLetteredAt: "Eas-Dead-Lettered-At",
} as const;

/** States of a stored {@link AsyncResult}; only `done` and `failed` are outcomes. */
export const AsyncResultState = {
  /** An instance answered with a status that is not retried. */
  done: "done",
  /** Dead-lettered: every attempt failed; `error` says why the last one did. */
  failed: "failed",
  /** Not an outcome: an attempt failed and the request waits for the next one; `attempts` counts the failures. */
  retrying: "retrying",
  /** Not an outcome: the request was dead-lettered, then queued again. */
  redriven: "redriven",
} as const;
export type AsyncResultState = (typeof AsyncResultState)[keyof typeof AsyncResultState];

export function isOutcome(result: AsyncResult): boolean {
  return result.state === AsyncResultState.done || result.state === AsyncResultState.failed;
}

export function encodeAsyncResult(result: AsyncResult): Uint8Array {
  return AsyncResult.encode(result).finish();
}

export function decodeAsyncResult(bytes: Uint8Array): AsyncResult {
  return AsyncResult.decode(bytes);
}

/**
 * A result as JSON, for clients that cannot take it as a plain HTTP answer: the results watch (SSE), callbacks
 * and batch outputs. `body` holds the body as text when it is UTF-8, `body_base64` otherwise.
 */
export interface AsyncResultView {
  request_id: string;
  /** "done", "failed", or "pending" (queued, running, or waiting for its next attempt). */
  status: "done" | "failed" | "pending";
  /** The instance's status code ("done"). */
  code?: number;
  headers?: Record<string, string>;
  body?: string;
  body_base64?: string;
  /** Why the last attempt failed ("failed", or "pending" after a failed attempt). */
  error?: string;
  attempts: number;
  instance?: string;
  submitted_at?: string;
  finished_at?: string;
}

const utf8 = new TextDecoder("utf-8", { fatal: true });

export function asyncResultView(result: AsyncResult): AsyncResultView {
  const status = result.state === AsyncResultState.done ? "done" : result.state === AsyncResultState.failed ? "failed" : "pending";
  const view: AsyncResultView = { request_id: result.requestId, status, attempts: result.attempts };
  if (status === "done") {
    view.code = result.statusCode;
    view.headers = Object.fromEntries(result.headers.map((header) => [header.name, header.value]));
    try {
      view.body = utf8.decode(result.body);
    } catch {
      view.body_base64 = Buffer.from(result.body).toString("base64");
    }
  }
  if (result.error !== "") view.error = result.error;
  if (result.instanceId !== "") view.instance = result.instanceId;
  if (result.submittedAtMs > 0) view.submitted_at = new Date(result.submittedAtMs).toISOString();
  if (result.finishedAtMs > 0 && status !== "pending") view.finished_at = new Date(result.finishedAtMs).toISOString();
  return view;
}

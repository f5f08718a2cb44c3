import type { JetStreamManager } from "@nats-io/jetstream";
import type { KV } from "@nats-io/kv";
import { decodeAsyncResult, isOutcome, type AsyncQueueLayout } from "@eas/contracts";
import type { AsyncResult } from "@eas/proto";

/** Where a request stands: its outcome, still pending (with its record after a failed attempt), or unknown. */
export type ResultLookup =
  | { readonly kind: "outcome"; readonly result: AsyncResult }
  | { readonly kind: "pending"; readonly result: AsyncResult | undefined }
  | { readonly kind: "unknown" };

/**
 * Finds request `id`: its stored record first (one round trip for a finished request), then the queue's stream
 * (still queued or running), then the record again. The async-queue stores an outcome before it removes the
 * request from the stream, so a request that leaves the stream between the first two reads is found by the third:
 * a known request is never reported unknown.
 */
export async function lookUpResult(results: KV, jsm: JetStreamManager, layout: AsyncQueueLayout, id: string): Promise<ResultLookup> {
  const first = await readRecord(results, id);
  if (first && isOutcome(first)) return { kind: "outcome", result: first };
  const [priority, normal] = await Promise.all([
    jsm.direct.getMessage(layout.stream, { last_by_subj: layout.requestSubject(id, true) }),
    jsm.direct.getMessage(layout.stream, { last_by_subj: layout.requestSubject(id, false) }),
  ]);
  if (priority || normal) return { kind: "pending", result: first };
  const second = await readRecord(results, id);
  if (second && isOutcome(second)) return { kind: "outcome", result: second };
  // A record without an outcome and no message: a redrive between its two steps; it is queued again shortly.
  if (second) return { kind: "pending", result: second };
  return { kind: "unknown" };
}

async function readRecord(results: KV, id: string): Promise<AsyncResult | undefined> {
  const entry = await results.get(id);
  if (!entry || entry.operation !== "PUT") return undefined;
  return decodeAsyncResult(entry.value);
}

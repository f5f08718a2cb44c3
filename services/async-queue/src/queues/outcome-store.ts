import type { JetStreamClient, JsMsg } from "@nats-io/jetstream";
import type { KV, KvEntry } from "@nats-io/kv";
import { headers as natsHeaders, type MsgHdrs } from "@nats-io/transport-node";
import {
  AsyncRequestHeader,
  AsyncResultState,
  asyncResultView,
  decodeAsyncResult,
  encodeAsyncResult,
  isOutcome,
  type AsyncQueueLayout,
} from "@eas/contracts";
import type { AsyncResult } from "@eas/proto";
import { callbackSubject } from "./topology.js";

/** A request's record in the results bucket, with the revision a conditional write needs. */
export interface StoredRecord {
  readonly result: AsyncResult;
  readonly revision: number;
}

/** KV "wrong last sequence": someone wrote the key since we read it. */
const WRONG_LAST_SEQUENCE = 10071;
/** Conditional writes are retried this often on a race before giving up (the message is then redelivered). */
const MAX_RACES = 8;

/**
 * The records of one async service's requests (ADR 0030). An outcome ("done" or "failed") is written once:
 * with KV create, or with update at the revision of a record that is not an outcome ("retrying", "redriven").
 * So when a redelivered request races a slow first attempt, the first outcome stored wins and the other is
 * dropped; no request has two. A dead letter is written only by the attempt whose "failed" outcome was stored.
 */
export class OutcomeStore {
  readonly #kv: KV;
  readonly #js: JetStreamClient;
  readonly #layout: AsyncQueueLayout;

  constructor(kv: KV, js: JetStreamClient, layout: AsyncQueueLayout) {
    this.#kv = kv;
    this.#js = js;
    this.#layout = layout;
  }

  async read(requestId: string): Promise<StoredRecord | undefined> {
    return toRecord(await this.#kv.get(requestId));
  }

  /**
   * Stores `result` as the request's outcome unless it has one: "stored", or "taken" with the outcome that won.
   * A request without a record (the usual case) costs one write: create first, read only after losing a race.
   */
  async storeOutcome(result: AsyncResult): Promise<{ kind: "stored"; revision: number } | { kind: "taken"; record: StoredRecord }> {
    const bytes = encodeAsyncResult(result);
    let current: StoredRecord | undefined;
    for (let race = 0; race < MAX_RACES; race++) {
      try {
        const revision = current
          ? await this.#kv.update(result.requestId, bytes, current.revision)
          : await this.#kv.create(result.requestId, bytes);
        return { kind: "stored", revision };
      } catch (error) {
        if (!isRace(error)) throw error;
      }
      current = await this.read(result.requestId);
      if (current && isOutcome(current.result)) return { kind: "taken", record: current };
    }
    throw new Error(`request ${result.requestId}: lost ${MAX_RACES} races to store its outcome`);
  }

  /**
   * Records a failed attempt ("retrying", with the failures so far and the error) unless the request has an
   * outcome. Returns the failures now recorded, or the outcome that exists.
   */
  async recordFailure(
    requestId: string,
    failures: number,
    error: string,
    submittedAtMs: number,
    now: number,
  ): Promise<{ kind: "recorded" } | { kind: "taken"; record: StoredRecord }> {
    for (let race = 0; race < MAX_RACES; race++) {
      const current = await this.read(requestId);
      if (current && isOutcome(current.result)) return { kind: "taken", record: current };
      const record: AsyncResult = {
        ...emptyResult(requestId, submittedAtMs),
        state: AsyncResultState.retrying,
        attempts: Math.max(failures, current?.result.state === AsyncResultState.retrying ? current.result.attempts + 1 : 0),
        error,
        finishedAtMs: now,
      };
      try {
        if (current) await this.#kv.update(requestId, encodeAsyncResult(record), current.revision);
        else await this.#kv.create(requestId, encodeAsyncResult(record));
        return { kind: "recorded" };
      } catch (caught) {
        if (!isRace(caught)) throw caught;
      }
    }
    throw new Error(`request ${requestId}: lost ${MAX_RACES} races to record a failed attempt`);
  }

  /**
   * A redrive's first step: the request's "failed" outcome becomes a "redriven" marker, so that the attempts
   * that follow can store a new outcome. A record already marked, or expired, is left as it is.
   */
  async markRedriven(requestId: string): Promise<void> {
    for (let race = 0; race < MAX_RACES; race++) {
      const current = await this.read(requestId);
      if (!current || current.result.state !== AsyncResultState.failed) return;
      const marker: AsyncResult = { ...emptyResult(requestId, current.result.submittedAtMs), state: AsyncResultState.redriven };
      try {
        await this.#kv.update(requestId, encodeAsyncResult(marker), current.revision);
        return;
      } catch (error) {
        if (!isRace(error)) throw error;
      }
    }
    throw new Error(`request ${requestId}: lost ${MAX_RACES} races to mark it redriven`);
  }

  /**
   * The dead letter of a request whose "failed" outcome was stored at `revision`: the original request with
   * why it failed. One per request id (the stream keeps one message per subject); the message id makes a
   * repeat after a restart a no-op.
   */
  async writeDeadLetter(message: Pick<JsMsg, "data" | "headers">, result: AsyncResult, revision: number, now: number): Promise<void> {
    const headers = natsHeaders();
    copyHeaders(message.headers, headers);
    headers.set(AsyncRequestHeader.deadLetterReason, result.error);
    headers.set(AsyncRequestHeader.attempts, String(result.attempts));
    headers.set(AsyncRequestHeader.deadLetteredAt, new Date(now).toISOString());
    await this.#js.publish(this.#layout.deadLetterSubject(result.requestId), message.data, {
      headers,
      msgID: `dl-${result.requestId}-${revision}`,
      expect: { streamName: this.#layout.deadLetterStream },
    });
  }

  /** Hands the outcome to the callback worker, when the request asked for one (its message id de-duplicates repeats). */
  async queueCallback(callbackUrl: string, result: AsyncResult): Promise<void> {
    const headers = natsHeaders();
    headers.set(AsyncRequestHeader.callbackUrl, callbackUrl);
    const body = JSON.stringify({ service: this.#layout.service, ...asyncResultView(result) });
    await this.#js.publish(callbackSubject(this.#layout.service, result.requestId), body, {
      headers,
      msgID: `cb-${this.#layout.service}-${result.requestId}`,
    });
  }
}

export function emptyResult(requestId: string, submittedAtMs: number): AsyncResult {
  return {
    requestId,
    state: "",
    statusCode: 0,
    headers: [],
    body: Buffer.alloc(0),
    attempts: 0,
    instanceId: "",
    error: "",
    submittedAtMs,
    finishedAtMs: 0,
  };
}

function toRecord(entry: KvEntry | null): StoredRecord | undefined {
  if (!entry || entry.operation !== "PUT") return undefined;
  return { result: decodeAsyncResult(entry.value), revision: entry.revision };
}

function isRace(error: unknown): boolean {
  const code = (error as { code?: unknown }).code;
  return code === WRONG_LAST_SEQUENCE || (error instanceof Error && /wrong last sequence/i.test(error.message));
}

function copyHeaders(from: MsgHdrs | undefined, to: MsgHdrs): void {
  if (!from) return;
  for (const name of from.keys()) {
    if (name.startsWith("Nats-")) continue;
    for (const value of from.values(name)) to.append(name, value);
  }
}

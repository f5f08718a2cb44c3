import type { Consumer, ConsumerMessages, JetStreamClient, JsMsg } from "@nats-io/jetstream";
import { AsyncRequestHeader, AsyncResultState, isOutcome, type AsyncQueueLayout } from "@eas/contracts";
import type { AsyncConfig, AsyncResult } from "@eas/proto";
import type { Logger } from "@eas/telemetry";
import { decideAfterAttempt, isStuck, type RetryBackoff } from "../domain/attempts.js";
import { freeSlots, pickInstance, pullSizes } from "../domain/dispatch-plan.js";
import { InstanceClient, type InstanceRequest } from "./instance-client.js";
import { emptyResult, type OutcomeStore, type StoredRecord } from "./outcome-store.js";
import { MAX_RESULT_BYTES } from "./topology.js";

export interface DispatcherSettings {
  /** The consumers' ack wait: requests held (waiting or running) are kept alive at a third of it. */
  readonly ackWaitMs: number;
  readonly backoff: RetryBackoff;
  /** Wall clock, Unix ms. */
  readonly clock: () => number;
  readonly logger: Logger;
  /** How long a stop waits for running attempts before cutting them (they are handed out again). */
  readonly stopGraceMs: number;
}

/** A Ready instance requests may go to. */
export interface DispatchTarget {
  readonly id: string;
  readonly endpoint: string;
}

/** What one service's dispatcher has done and holds, for the queue's status and per-second samples. */
export interface DispatchStats {
  /** Outcomes stored since the start: answers, and dead letters. */
  done: number;
  failed: number;
  /** Failed attempts (each retried or dead-lettered). */
  failedAttempts: number;
}

interface Slot {
  readonly id: string;
  readonly client: InstanceClient;
  concurrency: number;
  inFlight: number;
  /** Until when (monotonic ms) it is skipped while another instance has room: its last attempt could not reach it. */
  ejectedUntil: number;
  readonly ejected: boolean;
  /** No new requests: the instance is draining or unhealthy; its running attempts finish. */
  retired: boolean;
  readonly running: Set<Running>;
}

interface Running {
  readonly msg: JsMsg;
  readonly abort: AbortController;
}

type ConsumerKind = "priority" | "normal";

/** A pull waits this long for requests when the queue is empty. */
const PULL_EXPIRES_MS = 2_000;
const SHUTDOWN = "the async-queue is stopping";
/** How long an instance that could not be reached gets requests only when no other can take them. */
const EJECT_MS = 2_000;

function newSlot(target: DispatchTarget, concurrency: number): Slot {
  return {
    id: target.id,
    client: new InstanceClient(target.endpoint, concurrency),
    concurrency,
    inFlight: 0,
    ejectedUntil: 0,
    get ejected() {
      return this.ejectedUntil > performance.now();
    },
    retired: false,
    running: new Set(),
  };
}

/**
 * Dispatches one async service's queue (ADR 0030): pulls requests from the priority consumer and the normal one,
 * never more than its Ready instances' free slots (each instance runs at most its concurrency, EAS's window), sends
 * each to the least busy instance over its ordinary HTTP endpoint, and stores the outcome, retries later or
 * dead-letters according to `domain/attempts.ts`. Requests it holds are kept alive so JetStream does not hand them
 * out again while they wait or run; if the process dies, they are after the ack wait.
 */
export class ServiceDispatcher {
  readonly stats: DispatchStats = { done: 0, failed: 0, failedAttempts: 0 };
  readonly #layout: AsyncQueueLayout;
  readonly #js: JetStreamClient;
  readonly #store: OutcomeStore;
  readonly #settings: DispatcherSettings;
  readonly #log: Logger;
  #config: AsyncConfig;
  readonly #slots = new Map<string, Slot>();
  readonly #waiting: Record<ConsumerKind, JsMsg[]> = { priority: [], normal: [] };
  readonly #pulling: Record<ConsumerKind, ConsumerMessages | "starting" | undefined> = { priority: undefined, normal: undefined };
  readonly #consumers: Partial<Record<ConsumerKind, Promise<Consumer>>> = {};
  readonly #attempts = new Set<Promise<void>>();
  #rotation = 0;
  #stopping = false;
  readonly #keepAlive: NodeJS.Timeout;

  constructor(layout: AsyncQueueLayout, js: JetStreamClient, store: OutcomeStore, config: AsyncConfig, settings: DispatcherSettings) {
    this.#layout = layout;
    this.#js = js;
    this.#store = store;
    this.#config = config;
    this.#settings = settings;
    this.#log = settings.logger.child({ service: layout.service });
    this.#keepAlive = setInterval(() => this.#touchHeld(), Math.max(250, Math.floor(settings.ackWaitMs / 3)));
  }

  /** Applies the service's settings and its Ready instances; `leaving` says why each instance that left did. */
  update(
    config: AsyncConfig,
    concurrency: number,
    ready: readonly DispatchTarget[],
    leaving: ReadonlyMap<string, string | undefined>,
  ): void {
    if (this.#stopping) return;
    this.#config = config;
    const readyIds = new Set(ready.map((target) => target.id));
    for (const target of ready) {
      const slot = this.#slots.get(target.id);
      if (slot && slot.client.endpoint === target.endpoint && !slot.retired) {
        slot.concurrency = concurrency;
        continue;
      }
      if (slot) this.#release(slot, `instance ${slot.id} moved to ${target.endpoint}`);
      this.#slots.set(target.id, newSlot(target, concurrency));
    }
    for (const slot of [...this.#slots.values()]) {
      if (readyIds.has(slot.id)) continue;
      const reason = leaving.get(slot.id);
      // Gone (its process ended): its attempts cannot finish, retry them now. Draining or unhealthy: let them finish.
      if (reason !== undefined || !leaving.has(slot.id)) this.#release(slot, `instance ${slot.id} left (${reason ?? "ended"})`);
      else slot.retired = true;
    }
    this.#pump();
    this.#refill();
  }

  /** What the dispatcher holds now. */
  snapshot(): { inFlight: number; slots: number; waiting: number; readyInstances: number } {
    let inFlight = 0;
    let slots = 0;
    let readyInstances = 0;
    for (const slot of this.#slots.values()) {
      inFlight += slot.inFlight;
      if (slot.retired) continue;
      slots += slot.concurrency;
      readyInstances++;
    }
    return { inFlight, slots, waiting: this.#waiting.priority.length + this.#waiting.normal.length, readyInstances };
  }

  /** Stops pulling, hands waiting requests back, lets running attempts finish within the grace, then cuts them. */
  async stop(): Promise<void> {
    if (this.#stopping) return;
    this.#stopping = true;
    clearInterval(this.#keepAlive);
    for (const kind of ["priority", "normal"] as const) {
      const pulling = this.#pulling[kind];
      if (pulling && pulling !== "starting") pulling.stop();
      for (const msg of this.#waiting[kind].splice(0)) msg.nak();
    }
    const grace = new Promise<void>((resolve) => setTimeout(resolve, this.#settings.stopGraceMs).unref());
    await Promise.race([Promise.all([...this.#attempts]), grace]);
    for (const slot of this.#slots.values()) for (const running of slot.running) running.abort.abort(SHUTDOWN);
    await Promise.all([...this.#attempts]);
    await Promise.all([...this.#slots.values()].map((slot) => slot.client.destroy()));
    this.#slots.clear();
  }

  #release(slot: Slot, reason: string): void {
    this.#slots.delete(slot.id);
    slot.retired = true;
    for (const running of slot.running) running.abort.abort(reason);
    void slot.client.destroy();
  }

  #pickable(): Slot[] {
    const slots: Slot[] = [];
    for (const slot of this.#slots.values()) if (!slot.retired) slots.push(slot);
    return slots;
  }

  /** Starts as many waiting requests as instances have free slots, priority requests first. */
  #pump(): void {
    if (this.#stopping) return;
    const slots = this.#pickable();
    while (this.#waiting.priority.length + this.#waiting.normal.length > 0) {
      const slot = pickInstance(slots, this.#rotation++);
      if (!slot) return;
      const msg = (this.#waiting.priority.shift() ?? this.#waiting.normal.shift()) as JsMsg;
      this.#start(msg, slot);
    }
  }

  /** Pulls what the free slots can take, from each consumer without a pull out. */
  #refill(): void {
    if (this.#stopping) return;
    const waiting = this.#waiting.priority.length + this.#waiting.normal.length;
    const pickable = this.#pickable();
    const slots = pickable.reduce((sum, slot) => sum + slot.concurrency, 0);
    const sizes = pullSizes(slots, freeSlots(pickable), waiting, {
      priority: this.#pulling.priority !== undefined,
      normal: this.#pulling.normal !== undefined,
    });
    if (sizes.priority > 0) void this.#pull("priority", sizes.priority);
    if (sizes.normal > 0) void this.#pull("normal", sizes.normal);
  }

  async #pull(kind: ConsumerKind, count: number): Promise<void> {
    this.#pulling[kind] = "starting";
    let failed = false;
    try {
      const consumer = await this.#consumer(kind);
      if (this.#stopping) return;
      const messages = await consumer.fetch({ max_messages: count, expires: PULL_EXPIRES_MS });
      this.#pulling[kind] = messages;
      for await (const msg of messages) {
        if (this.#stopping) {
          msg.nak();
          continue;
        }
        this.#waiting[kind].push(msg);
        this.#pump();
      }
    } catch (error) {
      failed = true;
      delete this.#consumers[kind];
      if (!this.#stopping) this.#log.warn({ err: describe(error), consumer: kind }, "pulling requests failed; retrying in 1 s");
    } finally {
      this.#pulling[kind] = undefined;
    }
    if (failed) await new Promise((resolve) => setTimeout(resolve, 1_000));
    this.#refill();
  }

  #consumer(kind: ConsumerKind): Promise<Consumer> {
    let consumer = this.#consumers[kind];
    if (!consumer) {
      const durable = kind === "priority" ? this.#layout.priorityConsumer : this.#layout.normalConsumer;
      consumer = this.#js.consumers.get(this.#layout.stream, durable);
      this.#consumers[kind] = consumer;
    }
    return consumer;
  }

  #start(msg: JsMsg, slot: Slot): void {
    const running: Running = { msg, abort: new AbortController() };
    slot.inFlight++;
    slot.running.add(running);
    const attempt = this.#handle(msg, slot, running.abort.signal)
      .catch((error: unknown) => {
        // Storing failed (JetStream unavailable): the request is handed out again, no attempt counted.
        this.#log.error({ err: describe(error), subject: msg.subject }, "could not record an attempt; the request will be tried again");
        msg.nak(1_000);
      })
      .finally(() => {
        slot.inFlight--;
        slot.running.delete(running);
        this.#attempts.delete(attempt);
        if (slot.retired && slot.running.size === 0 && this.#slots.get(slot.id) === slot) {
          this.#slots.delete(slot.id);
          void slot.client.close();
        }
        this.#pump();
        this.#refill();
      });
    this.#attempts.add(attempt);
  }

  async #handle(msg: JsMsg, slot: Slot, signal: AbortSignal): Promise<void> {
    const requestId = this.#layout.requestIdOf(msg.subject);
    const submittedAtMs = Number(msg.headers?.get(AsyncRequestHeader.submittedAt)) || 0;
    const callbackUrl = msg.headers?.get(AsyncRequestHeader.callbackUrl) || undefined;
    const { maxAttempts } = this.#config;
    let failedBefore = 0;
    const deliveries = msg.info.deliveryCount;
    if (deliveries > 1) {
      // Handed out before: it may have an outcome already (the async-queue stopped after storing it).
      const existing = await this.#store.read(requestId);
      if (existing && isOutcome(existing.result)) {
        await this.#finishExisting(msg, existing, callbackUrl);
        return;
      }
      if (existing?.result.state === AsyncResultState.retrying) failedBefore = existing.result.attempts;
    }
    if (isStuck(deliveries, failedBefore, maxAttempts)) {
      await this.#deadLetter(
        msg,
        requestId,
        submittedAtMs,
        failedBefore,
        `handed out ${deliveries} times without an outcome`,
        "",
        callbackUrl,
      );
      return;
    }

    const { outcome, answer } = await slot.client.attempt(toInstanceRequest(msg), this.#config.requestTimeoutMs, signal, MAX_RESULT_BYTES);
    if (signal.aborted && signal.reason === SHUTDOWN) {
      msg.nak();
      return;
    }
    if (outcome.kind === "failed" && !signal.aborted) slot.ejectedUntil = performance.now() + EJECT_MS;
    const decision = decideAfterAttempt(outcome, failedBefore, maxAttempts, this.#settings.backoff);
    const now = this.#settings.clock();
    if (decision.kind === "store" && answer) {
      const result: AsyncResult = {
        ...emptyResult(requestId, submittedAtMs),
        state: AsyncResultState.done,
        statusCode: answer.status,
        headers: answer.headers.map(([name, value]) => ({ name, value })),
        body: answer.body,
        attempts: failedBefore + 1,
        instanceId: slot.id,
        finishedAtMs: now,
      };
      const stored = await this.#store.storeOutcome(result);
      if (stored.kind === "stored") {
        this.stats.done++;
        if (callbackUrl) await this.#store.queueCallback(callbackUrl, result);
      }
      msg.ack();
      return;
    }
    this.stats.failedAttempts++;
    if (decision.kind === "retry") {
      const recorded = await this.#store.recordFailure(
        requestId,
        failedBefore + 1,
        `${decision.error} (instance ${slot.id})`,
        submittedAtMs,
        now,
      );
      if (recorded.kind === "taken") msg.ack();
      else msg.nak(decision.delayMs);
      return;
    }
    const error = decision.kind === "dead-letter" ? decision.error : "no answer to store";
    await this.#deadLetter(msg, requestId, submittedAtMs, failedBefore + 1, `${error} (instance ${slot.id})`, slot.id, callbackUrl);
  }

  async #deadLetter(
    msg: JsMsg,
    requestId: string,
    submittedAtMs: number,
    attempts: number,
    error: string,
    instanceId: string,
    callbackUrl: string | undefined,
  ): Promise<void> {
    const now = this.#settings.clock();
    const result: AsyncResult = {
      ...emptyResult(requestId, submittedAtMs),
      state: AsyncResultState.failed,
      attempts,
      error,
      instanceId,
      finishedAtMs: now,
    };
    const stored = await this.#store.storeOutcome(result);
    if (stored.kind === "stored") {
      await this.#store.writeDeadLetter(msg, result, stored.revision, now);
      this.stats.failed++;
      this.#log.info({ requestId, attempts, error }, "request dead-lettered");
      if (callbackUrl) await this.#store.queueCallback(callbackUrl, result);
    }
    msg.ack();
  }

  /** A redelivered request that has its outcome: finish what storing it started (dead letter, callback), then let it go. */
  async #finishExisting(msg: JsMsg, existing: StoredRecord, callbackUrl: string | undefined): Promise<void> {
    if (existing.result.state === AsyncResultState.failed) {
      await this.#store.writeDeadLetter(msg, existing.result, existing.revision, existing.result.finishedAtMs);
    }
    if (callbackUrl) await this.#store.queueCallback(callbackUrl, existing.result);
    msg.ack();
  }

  /** Keeps held requests from being handed out again while they wait for a slot or run. */
  #touchHeld(): void {
    for (const msg of this.#waiting.priority) msg.working();
    for (const msg of this.#waiting.normal) msg.working();
    for (const slot of this.#slots.values()) for (const running of slot.running) running.msg.working();
  }
}

function toInstanceRequest(msg: JsMsg): InstanceRequest {
  const headers = msg.headers;
  let forwarded: [string, string][] = [];
  const raw = headers?.get(AsyncRequestHeader.headers);
  if (raw) {
    try {
      forwarded = JSON.parse(raw) as [string, string][];
    } catch {
      forwarded = [];
    }
  }
  const requestId = headers?.get(AsyncRequestHeader.requestId) ?? "";
  if (requestId !== "") forwarded.push(["x-request-id", requestId]);
  const path = headers?.get(AsyncRequestHeader.path) || "/";
  return {
    method: headers?.get(AsyncRequestHeader.method) || "POST",
    path: path.startsWith("/") ? path : `/${path}`,
    headers: forwarded,
    body: msg.data,
  };
}

function describe(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

import {
  jetstream,
  jetstreamManager,
  JetStreamApiError,
  JetStreamApiCodes,
  DiscardPolicy,
  RetentionPolicy,
  StorageType,
  type Consumer,
  type ConsumerMessages,
  type JetStreamClient,
  type JetStreamManager,
  type JsMsg,
  type StoredMsg,
  type StreamConfig,
} from "@nats-io/jetstream";
import { connect, type NatsConnection } from "@nats-io/transport-node";
import { EventStoreError, EventStoreUnavailableError, InvalidEventError, VersionConflictError } from "../errors.js";
import {
  describeRevision,
  expectedFirstRevision,
  parseStreamName,
  satisfies,
  validateAppend,
  validateCategory,
  validateReadOptions,
} from "../stream-name.js";
import { withActiveTraceContext } from "../trace-context.js";
import { FeedSubscription, sleep, type FeedContext } from "../subscription.js";
import type {
  AppendOptions,
  AppendResult,
  EventStore,
  ExpectedRevision,
  NewEvent,
  ReadAllOptions,
  ReadStreamOptions,
  RecordedEvent,
  SubscribeOptions,
  Subscription,
} from "../types.js";
import { decodeEvent, encodeEvent, EventHeaders, subjectOfStream, type StoredMessage } from "./cloudevents.js";
import { DEFAULT_RETRY_POLICY, type RetryPolicy } from "../retry.js";
import { isTransient, toStoreError, withRetry } from "./retry.js";
import { copyLegacyStream, parkLegacyStream } from "./legacy-migration.js";

/** Options of the JetStream adapter. Either `servers` (the store connects and owns the connection) or `nc`. */
export interface JetStreamEventStoreOptions {
  /** NATS server URL(s), e.g. "nats://127.0.0.1:4222". */
  servers?: string | string[];
  /** An existing connection; the store does not close it. */
  nc?: NatsConnection;
  /** JetStream stream holding the log; default "EAS_LOG". */
  streamName?: string;
  /**
   * Prefix of the subjects on which the stream republishes every event it stored, once each, in log order:
   * the subjects outside systems subscribe to; default "eas.events" ("eas.events.<category>.<id>").
   */
  subjectPrefix?: string;
  /**
   * Prefix of the subjects appends are published on and events are stored under (what JetStream consumers
   * filter on); default: `subjectPrefix` with its last token replaced by "log" ("eas.log"). A plain NATS
   * subscription here would also see appends the stream rejects: it is internal.
   */
  logSubjectPrefix?: string;
  /**
   * A stream in the layout before RePublish (events stored on `<subjectPrefix>.>`) to migrate from on
   * connect; default "EAS_EVENTS" when `streamName` is the default, none otherwise.
   */
  legacyStreamName?: string;
  /** How long the server remembers event ids for idempotent retries; default 2 minutes. */
  duplicateWindowMs?: number;
  /** Stream replicas when the store creates the stream; default 1 (3 on a cluster). */
  replicas?: number;
  /** CloudEvents `source` used when an event's metadata has none; default "eas". */
  source?: string;
  /** Retries of transient failures; default 15 s budget, 50 ms doubling up to 1 s. */
  retry?: Partial<RetryPolicy>;
  /** Timeout of each JetStream API request and publish; default 5 s. */
  requestTimeoutMs?: number;
  /** A read gives up with EventStoreUnavailableError when no message arrives for this long while some are pending; default 10 s. */
  readIdleTimeoutMs?: number;
  /** Connection name shown by the server (only with `servers`); default "eas-event-store". */
  connectionName?: string;
  /** Time of an append, used when an event has no `time`; default `new Date()`. */
  clock?: () => Date;
}

/** The options with every default filled in (the one place defaults live). */
export interface ResolvedJetStreamOptions {
  streamName: string;
  subjectPrefix: string;
  logSubjectPrefix: string;
  legacyStreamName: string | undefined;
  duplicateWindowMs: number;
  replicas: number;
  source: string;
  retry: RetryPolicy;
  requestTimeoutMs: number;
  readIdleTimeoutMs: number;
  connectionName: string;
  clock: () => Date;
}

/** Fills in the defaults of the JetStream adapter's options. */
export function withDefaults(options: JetStreamEventStoreOptions): ResolvedJetStreamOptions {
  const subjectPrefix = options.subjectPrefix ?? "eas.events";
  const logSubjectPrefix = options.logSubjectPrefix ?? siblingPrefix(subjectPrefix, "log");
  if (subjectsOverlap(subjectPrefix, logSubjectPrefix)) {
    throw new InvalidEventError(`logSubjectPrefix ${logSubjectPrefix} and subjectPrefix ${subjectPrefix} must not overlap`);
  }
  return {
    streamName: options.streamName ?? "EAS_LOG",
    subjectPrefix,
    logSubjectPrefix,
    legacyStreamName: options.legacyStreamName ?? (options.streamName === undefined ? "EAS_EVENTS" : undefined),
    duplicateWindowMs: options.duplicateWindowMs ?? 120_000,
    replicas: options.replicas ?? 1,
    source: options.source ?? "eas",
    retry: { ...DEFAULT_RETRY_POLICY, ...options.retry },
    requestTimeoutMs: options.requestTimeoutMs ?? 5_000,
    readIdleTimeoutMs: options.readIdleTimeoutMs ?? 10_000,
    connectionName: options.connectionName ?? "eas-event-store",
    clock: options.clock ?? (() => new Date()),
  };
}

/** "eas.events" -> "eas.log": the prefix with its last token replaced ("x" -> "x_log" for one token). */
function siblingPrefix(prefix: string, token: string): string {
  const dot = prefix.lastIndexOf(".");
  return dot < 0 ? `${prefix}_${token}` : `${prefix.slice(0, dot)}.${token}`;
}

/** Whether `a.>` and `b.>` share a subject: one prefix is the other or starts with it and a dot. */
function subjectsOverlap(a: string, b: string): boolean {
  return a === b || a.startsWith(`${b}.`) || b.startsWith(`${a}.`);
}

/**
 * Connects (when given `servers`), creates the JetStream stream or verifies the existing one, and returns
 * the store: connect-and-verify, so a returned store is known to work.
 * @throws EventStoreUnavailableError when NATS or JetStream cannot be reached within the retry budget.
 */
export async function connectJetStreamEventStore(options: JetStreamEventStoreOptions): Promise<EventStore> {
  const resolved = withDefaults(options);
  if (!options.nc && options.servers === undefined) throw new InvalidEventError("connectJetStreamEventStore needs `servers` or `nc`");
  const owned = options.nc === undefined;
  const nc =
    options.nc ??
    (await withRetry("connecting to NATS", resolved.retry, () =>
      connect({ servers: options.servers, name: resolved.connectionName, maxReconnectAttempts: -1 }),
    ));
  try {
    const store = new JetStreamEventStore(nc, resolved, { ownsConnection: owned });
    await store.ensureStream();
    return store;
  } catch (error) {
    if (owned) await nc.close().catch(() => undefined);
    throw toStoreError(error, "opening the JetStream event store");
  }
}

interface StreamTail {
  seq: number;
  revision: number;
  /** Set when the tail is an event of a multi-event append that is still being written. */
  midBatch?: { eventId: string };
}

type PublishOutcome = { kind: "stored"; seq: number } | { kind: "duplicate"; seq: number } | { kind: "wrong_sequence" };

interface OpenedConsumer {
  consumer: Consumer;
  /** Messages the consumer had to deliver when it was created. */
  pending: number;
}

/** An expected last subject sequence no subject can have: used to probe idempotency without writing. */
const IMPOSSIBLE_SEQUENCE = Number.MAX_SAFE_INTEGER;
/** Rounds of re-reading the tail for "any"/"stream_exists" appends that lose a race. */
const MAX_RACE_ROUNDS = 20;
/**
 * Lifetime of a pull request. The server sends idle heartbeats every half of it, and the client resets an
 * ordered consumer after two missed ones, so this bounds how long a subscription stays stuck after a
 * server restart (~5 s) at the price of one idle pull per subscription every 5 s.
 */
const PULL_EXPIRES_MS = 5_000;
/** How long an append waits for another writer's multi-event append to complete before appending after it. */
const BATCH_SETTLE_MS = 2_000;
/** Streams whose tail (sequence, revision) a store remembers from its own appends. */
const MAX_REMEMBERED_TAILS = 10_000;

/**
 * The event log on NATS JetStream: one stream (default `EAS_LOG`, subjects `eas.log.>`), one message per
 * event on `eas.log.<category>.<id>`, as a CloudEvent in binary mode (see `EventHeaders`). The stream
 * republishes each event it stored on `eas.events.<category>.<id>` (RePublish), once, in stream order, with
 * `Nats-Sequence` (its position) added: that is the subject outside systems subscribe to. `eas.log.>` also
 * carries appends the server rejects (revision conflicts, idempotency probes) and is internal.
 *
 * - Position = JetStream stream sequence. Revision = index of the event in its subject, stored in the
 *   `eas-revision` header; a last-by-subject get maps a revision to the subject sequence.
 * - Optimistic concurrency: each publish expects the subject's last sequence (API error 10071 otherwise).
 * - Idempotency: `Nats-Msg-Id` = event id. The server checks the id before the expected sequence, so a retry
 *   of the same append within the duplicate window returns the original result. When the expected revision
 *   does not match, the first event is published with an impossible expected sequence: a duplicate ack
 *   means "retry of an append that succeeded", error 10071 means a genuine conflict.
 * - Multi-event appends are NOT atomic (nats-server 2.9 has no atomic batch): events are published one by
 *   one, each expecting the previous one's sequence. A writer that dies half-way leaves a prefix of its
 *   batch; retrying the append with the same event ids (and expectation) completes it. Each event but the
 *   last carries `eas-batch-remaining`; another writer whose expectation a partial batch would satisfy
 *   waits for the batch to complete (up to 2 s, after which it counts as abandoned), so a live writer's
 *   batch is never cut in two. Readers may see a batch while it is being written.
 *
 * Use `connectJetStreamEventStore` to get a verified instance.
 */
export class JetStreamEventStore implements EventStore {
  readonly #nc: NatsConnection;
  readonly #js: JetStreamClient;
  readonly #options: ResolvedJetStreamOptions;
  readonly #ownsConnection: boolean;
  readonly #subscriptions = new Set<Subscription>();
  /** Subject -> tail after this store's last append to it, oldest first (bounded). */
  readonly #tails = new Map<string, StreamTail>();
  #manager: Promise<JetStreamManager> | undefined;
  #closed = false;

  constructor(nc: NatsConnection, options: ResolvedJetStreamOptions, { ownsConnection = false } = {}) {
    this.#nc = nc;
    this.#options = options;
    this.#ownsConnection = ownsConnection;
    this.#js = jetstream(nc, { timeout: options.requestTimeoutMs });
  }

  /** The JetStream stream configuration this store creates. */
  streamConfig(): Partial<StreamConfig> & { name: string } {
    const o = this.#options;
    return {
      name: o.streamName,
      subjects: [`${o.logSubjectPrefix}.>`],
      // What the stream stored, once each, in stream order, on the public subjects: an outside subscriber
      // never sees an append the stream rejected (it would on the subjects appends are published to).
      republish: { src: `${o.logSubjectPrefix}.>`, dest: `${o.subjectPrefix}.>` },
      storage: StorageType.File,
      retention: RetentionPolicy.Limits,
      discard: DiscardPolicy.Old,
      num_replicas: o.replicas,
      duplicate_window: o.duplicateWindowMs * 1_000_000,
      // An event log is append-only: no deleting or purging single events.
      deny_delete: true,
      deny_purge: true,
    };
  }

  /**
   * Creates the stream, or checks that the existing one stores and republishes our subjects (and updates its
   * duplicate window); migrates a stream of the layout before RePublish first (see `legacy-migration.ts`).
   */
  async ensureStream(): Promise<void> {
    const jsm = await this.#jsm();
    const { streamName, logSubjectPrefix, subjectPrefix, legacyStreamName, retry } = this.#options;
    const layout = legacyStreamName === undefined ? undefined : { legacyStreamName, subjectPrefix, streamName, logSubjectPrefix, retry };
    const legacy = layout === undefined ? null : await parkLegacyStream(jsm, layout);
    await this.#createOrVerifyStream(jsm);
    if (layout !== undefined && legacy !== null) await copyLegacyStream(jsm, this.#js, layout, legacy);
  }

  async #createOrVerifyStream(jsm: JetStreamManager): Promise<void> {
    const wanted = this.streamConfig();
    const { streamName, logSubjectPrefix, subjectPrefix } = this.#options;
    await withRetry(`creating or verifying stream ${streamName}`, this.#options.retry, async () => {
      let info;
      try {
        info = await jsm.streams.info(streamName);
      } catch (error) {
        if (!(error instanceof JetStreamApiError && error.code === JetStreamApiCodes.StreamNotFound)) throw error;
        try {
          await jsm.streams.add(wanted);
          return;
        } catch (addError) {
          // Another process created it between our info and add: verify theirs.
          if (!(addError instanceof JetStreamApiError && addError.code === 10058)) throw addError;
          info = await jsm.streams.info(streamName);
        }
      }
      if (!info.config.subjects?.includes(`${logSubjectPrefix}.>`)) {
        throw new EventStoreError(
          `stream ${streamName} exists with subjects ${JSON.stringify(info.config.subjects)}, not ${logSubjectPrefix}.>`,
          { retryable: false },
        );
      }
      const republish = info.config.republish;
      if (republish?.src !== wanted.republish!.src || republish?.dest !== wanted.republish!.dest || republish?.headers_only) {
        // nats-server refuses to change RePublish on an existing stream.
        throw new EventStoreError(
          `stream ${streamName} exists without RePublish of ${logSubjectPrefix}.> to ${subjectPrefix}.> ` +
            `(it has ${JSON.stringify(republish ?? null)}); nats-server cannot add it to an existing stream`,
          { retryable: false },
        );
      }
      if (info.config.duplicate_window !== wanted.duplicate_window) {
        await jsm.streams.update(streamName, { ...info.config, duplicate_window: wanted.duplicate_window });
      }
    });
  }

  async append(stream: string, newEvents: readonly NewEvent[], options: AppendOptions): Promise<AppendResult> {
    this.#assertOpen();
    const expected = options?.expectedRevision;
    const { category, id } = validateAppend(stream, newEvents, expected);
    const events = newEvents.map(withActiveTraceContext);
    const subject = subjectOfStream(category, id, this.#options.logSubjectPrefix);
    const now = this.#options.clock();
    try {
      // A writer usually appends after its own last append: the tail it remembers saves the
      // last-by-subject read. A stale memory costs nothing but that read, because the server checks
      // the expected sequence anyway (a mismatch there sends us down the verified path below).
      const remembered = this.#tails.get(subject);
      if (remembered !== undefined && satisfies(expected, remembered.revision)) {
        const outcome = await this.#appendFrom(stream, subject, events, expected, remembered, now, true);
        if (outcome !== "lost_race") return this.#remember(subject, outcome);
      }
      for (let round = 1; ; round++) {
        const tail = await this.#settledTail(subject, expected, events);
        const current = tail?.revision ?? -1;
        const outcome = await this.#appendFrom(stream, subject, events, expected, tail, now, false);
        if (outcome !== "lost_race") return this.#remember(subject, outcome);
        // Only "any"/"stream_exists" get here: they lost a race on the first event, and their expectation
        // is still met by the new tail, so they re-read and try again.
        if (round >= MAX_RACE_ROUNDS) {
          throw new VersionConflictError(stream, String(expected), describeRevision(current));
        }
      }
    } catch (error) {
      this.#tails.delete(subject);
      throw error;
    }
  }

  #remember(subject: string, result: AppendResult): AppendResult {
    this.#tails.delete(subject);
    this.#tails.set(subject, { seq: result.position, revision: result.nextExpectedRevision });
    if (this.#tails.size > MAX_REMEMBERED_TAILS) this.#tails.delete(this.#tails.keys().next().value!);
    return result;
  }

  async #appendFrom(
    stream: string,
    subject: string,
    events: readonly NewEvent[],
    expected: ExpectedRevision,
    tail: StreamTail | null,
    now: Date,
    /** The tail is remembered, not read: a wrong sequence on the first event means "re-read", not "conflict". */
    remembered: boolean,
  ): Promise<AppendResult | "lost_race"> {
    const current = tail?.revision ?? -1;
    const firstRevision = expectedFirstRevision(expected);
    const conflict = async () => {
      const actual = await this.#tail(subject);
      return new VersionConflictError(stream, String(expected), describeRevision(actual?.revision ?? -1));
    };
    let previous: StreamTail = tail ?? { seq: 0, revision: -1 };
    let startIndex = 0;

    if (!satisfies(expected, current)) {
      // Idempotency probe: the server reports a duplicate before it checks the (impossible) expected
      // sequence, so this never writes, and tells a retry of a stored append from a real conflict.
      const probe = await this.#publish(subject, stream, events, 0, firstRevision ?? 0, IMPOSSIBLE_SEQUENCE, now);
      if (probe.kind !== "duplicate") throw await conflict();
      const stored = await this.#storedTail(probe.seq, subject);
      if (firstRevision !== undefined && stored.revision !== firstRevision) throw await conflict();
      previous = stored;
      startIndex = 1;
    }

    for (let index = startIndex; index < events.length; index++) {
      const revision = previous.revision + 1;
      const outcome = await this.#publish(subject, stream, events, index, revision, previous.seq, now);
      if (outcome.kind === "stored") {
        previous = { seq: outcome.seq, revision };
      } else if (outcome.kind === "duplicate") {
        const stored = await this.#storedTail(outcome.seq, subject);
        // The first event of an "any"/"stream_exists" append may be any earlier one; later ones must follow on.
        if ((index > 0 || firstRevision !== undefined) && stored.revision !== revision) throw await conflict();
        previous = stored;
      } else if (index === 0 && (remembered || expected === "any" || expected === "stream_exists")) {
        return "lost_race";
      } else {
        throw await conflict();
      }
    }
    return { nextExpectedRevision: previous.revision, position: previous.seq };
  }

  async #publish(
    subject: string,
    stream: string,
    events: readonly NewEvent[],
    index: number,
    revision: number,
    expectedSequence: number,
    now: Date,
  ): Promise<PublishOutcome> {
    const event = events[index]!;
    const defaults = { time: now, source: this.#options.source };
    const { headers, body } = encodeEvent(event, stream, revision, defaults, events.length - 1 - index);
    return await withRetry(`appending to ${stream}`, this.#options.retry, async () => {
      try {
        const ack = await this.#js.publish(subject, body, {
          msgID: event.id,
          headers,
          expect: { lastSubjectSequence: expectedSequence },
          timeout: this.#options.requestTimeoutMs,
        });
        return ack.duplicate ? { kind: "duplicate", seq: ack.seq } : { kind: "stored", seq: ack.seq };
      } catch (error) {
        if (error instanceof JetStreamApiError && error.code === JetStreamApiCodes.StreamWrongLastSequence) {
          return { kind: "wrong_sequence" };
        }
        throw error;
      }
    });
  }

  /** Last message of a subject as (sequence, revision), or null when the stream has no event yet. */
  async #tail(subject: string): Promise<StreamTail | null> {
    const message = await this.#lastMessage(subject);
    if (message === null) return null;
    const event = this.#decode(message);
    const tail: StreamTail = { seq: message.seq, revision: event.revision };
    if (Number(message.header.get(EventHeaders.batchRemaining) || 0) > 0) tail.midBatch = { eventId: event.id };
    return tail;
  }

  /**
   * The tail to append after. When it is the middle of another writer's multi-event append and our
   * expectation would accept it, appending now would cut that batch in two (its next event expects this
   * very sequence), so we give the batch a moment to complete. A batch still unfinished after
   * BATCH_SETTLE_MS is taken as abandoned by a dead writer: its own retry will then report a conflict.
   */
  async #settledTail(subject: string, expected: ExpectedRevision, events: readonly NewEvent[]): Promise<StreamTail | null> {
    const started = Date.now();
    let delay = 2;
    for (;;) {
      const tail = await this.#tail(subject);
      if (
        tail?.midBatch === undefined ||
        events.some((event) => event.id === tail.midBatch!.eventId) ||
        !satisfies(expected, tail.revision) ||
        Date.now() - started > BATCH_SETTLE_MS
      ) {
        return tail;
      }
      await sleep(delay);
      delay = Math.min(delay * 2, 50);
    }
  }

  async #lastMessage(subject: string): Promise<StoredMsg | null> {
    const jsm = await this.#jsm();
    return await withRetry(`reading the tail of ${subject}`, this.#options.retry, () =>
      jsm.streams.getMessage(this.#options.streamName, { last_by_subj: subject }),
    );
  }

  /** The stored message a duplicate ack points at; it must belong to the same subject. */
  async #storedTail(seq: number, subject: string): Promise<StreamTail> {
    const jsm = await this.#jsm();
    const message = await withRetry(`reading position ${seq}`, this.#options.retry, () =>
      jsm.streams.getMessage(this.#options.streamName, { seq }),
    );
    if (message === null) throw new EventStoreUnavailableError(`event at position ${seq} vanished`);
    const event = this.#decode(message);
    if (message.subject !== subject) {
      throw new InvalidEventError(`event id ${event.id} is already used in stream ${event.stream}`);
    }
    return { seq, revision: event.revision };
  }

  async readStream(stream: string, options: ReadStreamOptions = {}): Promise<RecordedEvent[]> {
    this.#assertOpen();
    const { category, id } = parseStreamName(stream);
    validateReadOptions(options);
    const from = options.fromRevision ?? 0;
    const max = options.maxCount ?? Number.POSITIVE_INFINITY;
    if (max === 0) return [];
    const subject = subjectOfStream(category, id, this.#options.logSubjectPrefix);
    const last = await this.#lastMessage(subject);
    if (last === null) return [];
    const lastEvent = this.#decode(last);
    if (from > lastEvent.revision) return [];
    // Reading the latest event alone (a common "where is this aggregate" query) needs no consumer.
    if (from === lastEvent.revision) return [lastEvent];
    const events: RecordedEvent[] = [];
    for await (const event of this.#scan(subject, 1)) {
      if (event.revision < from) continue;
      events.push(event);
      if (events.length >= max || event.revision >= lastEvent.revision) break;
    }
    return events;
  }

  async *readAll(options: ReadAllOptions = {}): AsyncGenerator<RecordedEvent> {
    this.#assertOpen();
    validateReadOptions(options);
    const max = options.maxCount ?? Number.POSITIVE_INFINITY;
    if (max === 0) return;
    let count = 0;
    for await (const event of this.#scan(`${this.#options.logSubjectPrefix}.>`, (options.afterPosition ?? 0) + 1)) {
      yield event;
      if (++count >= max) return;
    }
  }

  /** Stored events matching `filter` from `startSeq` up to the last one pending when the read began. */
  async *#scan(filter: string, startSeq: number): AsyncGenerator<RecordedEvent> {
    const opened = await this.#openConsumer(filter, startSeq);
    try {
      if (opened.pending === 0) return;
      let remaining = opened.pending;
      const messages = await opened.consumer.consume({ max_messages: Math.min(remaining, 512), expires: PULL_EXPIRES_MS });
      const idle = new IdleTimer(this.#options.readIdleTimeoutMs, () =>
        messages.stop(new EventStoreUnavailableError(`no event arrived for ${this.#options.readIdleTimeoutMs} ms while reading ${filter}`)),
      );
      try {
        for await (const message of messages) {
          idle.reset();
          remaining--;
          yield this.#decodeJs(message);
          // Stop at what was pending at the start: a read is a snapshot, subscriptions follow live.
          if (remaining <= 0 || message.info.pending === 0) return;
        }
        throw new EventStoreUnavailableError(`reading ${filter} ended before the last pending event`);
      } catch (error) {
        throw toStoreError(error, `reading ${filter}`);
      } finally {
        idle.stop();
        messages.stop();
      }
    } finally {
      await this.#deleteConsumer(opened.consumer);
    }
  }

  subscribeToAll(options: SubscribeOptions = {}): Subscription {
    this.#assertOpen();
    validateReadOptions(options);
    if (options.category !== undefined) validateCategory(options.category);
    const prefix = this.#options.logSubjectPrefix;
    const filter = options.category === undefined ? `${prefix}.>` : `${prefix}.${options.category}.>`;
    const after = options.afterPosition ?? 0;
    // The consumer opens now, not on the first `next()`, so that "the events that existed when the
    // subscription started" means what it says and `caughtUp` can resolve before anyone iterates.
    const abort = new AbortController();
    const opening = this.#openConsumer(filter, after + 1, abort.signal);
    let started = false;
    const subscription: FeedSubscription = new FeedSubscription(
      (context) => {
        started = true;
        return this.#follow(filter, after, opening, context);
      },
      {
        abort,
        onClose: async () => {
          this.#subscriptions.delete(subscription);
          if (started) return;
          const unused = await opening.catch(() => undefined);
          if (unused) await this.#deleteConsumer(unused.consumer);
        },
      },
    );
    void opening.then(
      (opened) => {
        if (opened.pending === 0) subscription.markCaughtUp();
      },
      (error: unknown) => subscription.fail(error),
    );
    this.#subscriptions.add(subscription);
    return subscription;
  }

  async *#follow(filter: string, after: number, opening: Promise<OpenedConsumer>, context: FeedContext): AsyncGenerator<RecordedEvent> {
    const first = await opening;
    let opened = first;
    let delivered = 0;
    let last = after;
    const { signal } = context;
    for (;;) {
      let messages: ConsumerMessages | undefined;
      const stop = () => messages?.stop();
      signal.addEventListener("abort", stop, { once: true });
      try {
        messages = await opened.consumer.consume({ max_messages: 256, expires: PULL_EXPIRES_MS });
        if (signal.aborted) return;
        for await (const message of messages) {
          const event = this.#decodeJs(message);
          last = event.position;
          delivered++;
          if (delivered === first.pending) context.caughtUpAfterThisEvent();
          yield event;
        }
        if (signal.aborted) return;
      } catch (error) {
        if (signal.aborted) return;
        if (!isTransient(error)) throw toStoreError(error, `subscription to ${filter}`);
      } finally {
        signal.removeEventListener("abort", stop);
        messages?.stop();
        await this.#deleteConsumer(opened.consumer);
      }
      // The consumer ended without being closed (e.g. it was deleted on the server): resume after the
      // last delivered event, which keeps the no-gap, no-duplicate promise.
      opened = await this.#openConsumer(filter, last + 1, signal);
    }
  }

  async #openConsumer(filter: string, startSeq: number, signal?: AbortSignal): Promise<OpenedConsumer> {
    return await withRetry(
      `opening a consumer on ${filter}`,
      this.#options.retry,
      async () => {
        // An ordered consumer: ephemeral, flow-controlled, recreated by the client after a gap, so the
        // messages arrive in stream order exactly once.
        const consumer = await this.#js.consumers.get(this.#options.streamName, {
          filter_subjects: filter,
          opt_start_seq: Math.max(1, startSeq),
          inactive_threshold: 60_000,
        });
        const info = await consumer.info(true);
        return { consumer, pending: info.num_pending };
      },
      signal,
    );
  }

  async #deleteConsumer(consumer: Consumer): Promise<void> {
    if (this.#nc.isClosed()) return;
    // Best effort: an ordered consumer also disappears by itself after its inactivity threshold.
    await consumer.delete().catch(() => undefined);
  }

  async headPosition(): Promise<number> {
    this.#assertOpen();
    const jsm = await this.#jsm();
    const info = await withRetry("reading the head position", this.#options.retry, () => jsm.streams.info(this.#options.streamName));
    return info.state.last_seq;
  }

  /** Closes open subscriptions, then the connection when the store opened it. Idempotent. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    await Promise.all([...this.#subscriptions].map((subscription) => subscription.close()));
    // Every operation of the store awaits its own replies, so there is nothing to drain; close() also
    // works while the connection is down and reconnecting.
    if (this.#ownsConnection && !this.#nc.isClosed()) await this.#nc.close();
  }

  #jsm(): Promise<JetStreamManager> {
    this.#manager ??= jetstreamManager(this.#nc, { timeout: this.#options.requestTimeoutMs, checkAPI: false });
    return this.#manager;
  }

  #decode(message: StoredMsg): RecordedEvent {
    const stored: StoredMessage = {
      subject: message.subject,
      seq: message.seq,
      headers: message.header,
      data: message.data,
      storedAt: message.time,
    };
    return decodeEvent(stored, this.#options.logSubjectPrefix);
  }

  #decodeJs(message: JsMsg): RecordedEvent {
    return decodeEvent(
      { subject: message.subject, seq: message.seq, headers: message.headers, data: message.data, storedAt: message.time },
      this.#options.logSubjectPrefix,
    );
  }

  #assertOpen(): void {
    if (this.#closed) throw new EventStoreError("the event store is closed", { retryable: false });
  }
}

/** Calls `onIdle` when `reset` has not been called for `ms`. */
class IdleTimer {
  #timer: NodeJS.Timeout;
  constructor(
    private readonly ms: number,
    private readonly onIdle: () => void,
  ) {
    this.#timer = setTimeout(onIdle, ms);
  }
  reset(): void {
    this.#timer.refresh();
  }
  stop(): void {
    clearTimeout(this.#timer);
  }
}

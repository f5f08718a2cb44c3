import { EventStoreError, InvalidEventError, VersionConflictError } from "../errors.js";
import {
  compactMetadata,
  describeRevision,
  expectedFirstRevision,
  parseStreamName,
  satisfies,
  validateAppend,
  validateCategory,
  validateReadOptions,
} from "../stream-name.js";
import { withActiveTraceContext } from "../trace-context.js";
import { FeedSubscription, type FeedContext } from "../subscription.js";
import type {
  AppendOptions,
  AppendResult,
  EventStore,
  NewEvent,
  ReadAllOptions,
  ReadStreamOptions,
  RecordedEvent,
  SubscribeOptions,
  Subscription,
} from "../types.js";

/** Options of the in-memory store. */
export interface InMemoryEventStoreOptions {
  /** Time of an append, used when an event has no `time`; defaults to `new Date()`. */
  clock?: () => Date;
  /** CloudEvents `source` recorded when an event's metadata has none; default "eas". */
  source?: string;
}

/**
 * The event log in process memory, with the same semantics as the JetStream adapter (it passes the same
 * contract suite): optimistic concurrency, idempotent retries by event id, catch-up subscriptions.
 * Meant for unit tests of other packages and for tools; nothing survives the process.
 *
 * One difference, by design: event ids are remembered forever here, while JetStream forgets them after
 * its duplicate window (2 minutes by default).
 */
export class InMemoryEventStore implements EventStore {
  readonly #log: RecordedEvent[] = [];
  readonly #streams = new Map<string, RecordedEvent[]>();
  readonly #byId = new Map<string, RecordedEvent>();
  readonly #waiters = new Set<() => void>();
  readonly #subscriptions = new Set<Subscription>();
  readonly #clock: () => Date;
  readonly #source: string;
  #closed = false;

  constructor(options: InMemoryEventStoreOptions = {}) {
    this.#clock = options.clock ?? (() => new Date());
    this.#source = options.source ?? "eas";
  }

  async append(stream: string, newEvents: readonly NewEvent[], options: AppendOptions): Promise<AppendResult> {
    this.#assertOpen();
    const expected = options?.expectedRevision;
    validateAppend(stream, newEvents, expected);
    const events = newEvents.map(withActiveTraceContext);
    const existing = this.#streams.get(stream) ?? [];
    const current = existing.length - 1;
    const firstRevision = expectedFirstRevision(expected);
    let startIndex = 0;
    let last: { revision: number; position: number } | undefined = existing.at(-1);

    if (!satisfies(expected, current)) {
      // Same rule as JetStream: a retry whose first event is already stored where this append put it is
      // idempotent, whatever happened to the stream since; anything else is a conflict.
      const stored = this.#byId.get(events[0]!.id);
      if (stored === undefined) throw new VersionConflictError(stream, String(expected), describeRevision(current));
      this.#assertSameStream(stored, stream);
      if (firstRevision !== undefined && stored.revision !== firstRevision) {
        throw new VersionConflictError(stream, String(expected), describeRevision(current));
      }
      last = stored;
      startIndex = 1;
    }

    const now = this.#clock();
    const toAdd: RecordedEvent[] = [];
    for (let index = startIndex; index < events.length; index++) {
      const event = events[index]!;
      const revision = (last?.revision ?? -1) + 1;
      const stored = this.#byId.get(event.id);
      if (stored !== undefined) {
        this.#assertSameStream(stored, stream);
        // The first event of an "any"/"stream_exists" append may be any earlier one; later ones must follow on.
        if ((index > 0 || firstRevision !== undefined) && stored.revision !== revision) {
          throw new VersionConflictError(stream, String(expected), describeRevision(current));
        }
        last = stored;
        continue;
      }
      if (revision !== existing.length + toAdd.length) {
        throw new VersionConflictError(stream, String(expected), describeRevision(existing.length - 1));
      }
      const recorded: RecordedEvent = {
        id: event.id,
        type: event.type,
        stream,
        revision,
        position: this.#log.length + toAdd.length + 1,
        time: new Date((event.time ?? now).getTime()),
        data: structuredClone(event.data),
        metadata: compactMetadata({ ...event.metadata, source: event.metadata?.source || this.#source }),
      };
      toAdd.push(recorded);
      last = recorded;
    }

    for (const recorded of toAdd) {
      this.#log.push(recorded);
      existing.push(recorded);
      this.#byId.set(recorded.id, recorded);
    }
    if (!this.#streams.has(stream) && existing.length > 0) this.#streams.set(stream, existing);
    if (toAdd.length > 0) this.#wake();
    return { nextExpectedRevision: last!.revision, position: last!.position };
  }

  async readStream(stream: string, options: ReadStreamOptions = {}): Promise<RecordedEvent[]> {
    this.#assertOpen();
    parseStreamName(stream);
    validateReadOptions(options);
    const from = options.fromRevision ?? 0;
    const events = this.#streams.get(stream) ?? [];
    const end = options.maxCount === undefined ? events.length : from + options.maxCount;
    return events.slice(from, end).map(copy);
  }

  async *readAll(options: ReadAllOptions = {}): AsyncGenerator<RecordedEvent> {
    this.#assertOpen();
    validateReadOptions(options);
    const after = options.afterPosition ?? 0;
    const max = options.maxCount ?? Number.POSITIVE_INFINITY;
    let count = 0;
    for (let index = after; index < this.#log.length && count < max; index++, count++) yield copy(this.#log[index]!);
  }

  subscribeToAll(options: SubscribeOptions = {}): Subscription {
    this.#assertOpen();
    const { afterPosition = 0, category } = options;
    validateReadOptions(options);
    if (category !== undefined) validateCategory(category);
    const matches = (event: RecordedEvent) => category === undefined || parseStreamName(event.stream).category === category;
    // The last matching event that exists now: caughtUp resolves once the consumer is past it.
    let boundary = 0;
    for (let index = this.#log.length - 1; index >= afterPosition; index--) {
      if (matches(this.#log[index]!)) {
        boundary = index + 1;
        break;
      }
    }
    const subscription: FeedSubscription = new FeedSubscription((context) => this.#follow(afterPosition, boundary, matches, context), {
      onClose: async () => {
        this.#subscriptions.delete(subscription);
      },
    });
    if (boundary === 0) subscription.markCaughtUp();
    this.#subscriptions.add(subscription);
    return subscription;
  }

  async *#follow(
    afterPosition: number,
    boundary: number,
    matches: (event: RecordedEvent) => boolean,
    context: FeedContext,
  ): AsyncGenerator<RecordedEvent> {
    let next = afterPosition;
    while (!context.signal.aborted) {
      while (next < this.#log.length && !context.signal.aborted) {
        const event = this.#log[next++]!;
        if (!matches(event)) continue;
        if (event.position === boundary) context.caughtUpAfterThisEvent();
        yield copy(event);
      }
      await this.#nextAppend(context.signal);
    }
  }

  async headPosition(): Promise<number> {
    this.#assertOpen();
    return this.#log.length;
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    await Promise.all([...this.#subscriptions].map((subscription) => subscription.close()));
    this.#wake();
  }

  #nextAppend(signal: AbortSignal): Promise<void> {
    return new Promise((resolve) => {
      const done = () => {
        this.#waiters.delete(done);
        signal.removeEventListener("abort", done);
        resolve();
      };
      this.#waiters.add(done);
      signal.addEventListener("abort", done, { once: true });
    });
  }

  #wake(): void {
    for (const waiter of [...this.#waiters]) waiter();
  }

  #assertSameStream(stored: RecordedEvent, stream: string): void {
    if (stored.stream !== stream) {
      throw new InvalidEventError(`event id ${stored.id} is already used in stream ${stored.stream}`);
    }
  }

  #assertOpen(): void {
    if (this.#closed) throw new EventStoreError("the event store is closed", { retryable: false });
  }
}

function copy(event: RecordedEvent): RecordedEvent {
  return { ...event, time: new Date(event.time.getTime()), data: structuredClone(event.data), metadata: { ...event.metadata } };
}

import {
  BACKWARDS,
  END,
  ErrorType,
  excludeSystemEvents,
  FORWARDS,
  isCommandError,
  jsonEvent,
  KurrentDBClient,
  START,
  StreamNotFoundError,
  streamNameFilter,
  WrongExpectedVersionError,
  type AllStreamSubscription,
  type AppendStreamState,
  type Filter,
  type Position,
  type RecordedEvent as KurrentRecordedEvent,
} from "@kurrent/kurrentdb-client";
import { EventStoreError, EventStoreUnavailableError, InvalidEventError, VersionConflictError } from "../errors.js";
import { DEFAULT_RETRY_POLICY, retrying, type RetryPolicy } from "../retry.js";
import { compactMetadata, parseStreamName, validateAppend, validateCategory, validateReadOptions } from "../stream-name.js";
import { withActiveTraceContext } from "../trace-context.js";
import { FeedSubscription, type FeedContext } from "../subscription.js";
import type { KurrentDbEventStoreOptions } from "./connect.js";
import type {
  AppendOptions,
  AppendResult,
  EventMetadata,
  EventStore,
  ExpectedRevision,
  JsonObject,
  NewEvent,
  ReadAllOptions,
  ReadStreamOptions,
  RecordedEvent,
  SubscribeOptions,
  Subscription,
} from "../types.js";

/** Event metadata as stored in KurrentDB: KurrentDB's own correlation/causation keys, plus ours. */
interface StoredMetadata {
  $correlationId?: string;
  $causationId?: string;
  traceparent?: string;
  tracestate?: string;
  source?: string;
  /** The event time (RFC 3339); KurrentDB's `created` is the time of the write. */
  time?: string;
}

/** The eager half of `connectKurrentDbEventStore` (which loads this module on demand). */
export async function openKurrentDbEventStore(options: KurrentDbEventStoreOptions): Promise<EventStore> {
  let client: KurrentDBClient;
  try {
    client = KurrentDBClient.connectionString(options.connectionString);
  } catch (error) {
    throw new InvalidEventError(`bad KurrentDB connection string: ${(error as Error).message}`);
  }
  const store = new KurrentDbEventStore(client, options, { ownsClient: true });
  try {
    await store.headPosition();
    return store;
  } catch (error) {
    await store.close();
    throw error;
  }
}

/**
 * The event log on KurrentDB through its official Node client (gRPC). Stream names are used as they are
 * ("service-iris", so KurrentDB's `$ce-service` category projection works).
 *
 * - Revision = KurrentDB stream revision; expected revisions map to `streamState` (a revision as bigint,
 *   NO_STREAM, STREAM_EXISTS, ANY). WrongExpectedVersionError becomes VersionConflictError.
 * - Position = the event's commit position in the transaction log, as a number. Commit positions grow
 *   strictly along `$all` (the prepare position differs only for events written in explicit transactions,
 *   which this adapter never uses) and stay below 2^53 for any log smaller than 8 PiB. A checkpoint
 *   `p` resumes from `{ commit: p, prepare: p }`, excluding the event at `p` itself.
 * - Idempotency: KurrentDB's own, by event id and expected revision (event ids must be UUIDs here).
 * - `readAll` and subscriptions skip system events (types starting with `$`) and events whose stream
 *   name is not "<category>-<id>" (not written through this port).
 * - Metadata is a JSON object: `$correlationId`, `$causationId` (KurrentDB's conventions), `traceparent`,
 *   `tracestate`, `source` and `time` (the event time; KurrentDB's `created` is the write time).
 */
export class KurrentDbEventStore implements EventStore {
  readonly #client: KurrentDBClient;
  readonly #source: string;
  readonly #retry: RetryPolicy;
  readonly #clock: () => Date;
  readonly #ownsClient: boolean;
  readonly #subscriptions = new Set<Subscription>();
  #closed = false;

  constructor(client: KurrentDBClient, options: Omit<KurrentDbEventStoreOptions, "connectionString">, { ownsClient = false } = {}) {
    this.#client = client;
    this.#source = options.source ?? "eas";
    this.#retry = { ...DEFAULT_RETRY_POLICY, ...options.retry };
    this.#clock = options.clock ?? (() => new Date());
    this.#ownsClient = ownsClient;
  }

  async append(stream: string, newEvents: readonly NewEvent[], options: AppendOptions): Promise<AppendResult> {
    this.#assertOpen();
    const expected = options?.expectedRevision;
    validateAppend(stream, newEvents, expected);
    const events = newEvents.map(withActiveTraceContext);
    for (const event of events) {
      if (!UUID.test(event.id)) throw new InvalidEventError(`KurrentDB needs UUID event ids, got ${JSON.stringify(event.id)}`);
    }
    const now = this.#clock();
    const payload = events.map((event) => {
      const metadata: StoredMetadata = {
        source: event.metadata?.source || this.#source,
        time: (event.time ?? now).toISOString(),
      };
      if (event.metadata?.correlationId) metadata.$correlationId = event.metadata.correlationId;
      if (event.metadata?.causationId) metadata.$causationId = event.metadata.causationId;
      if (event.metadata?.traceparent) metadata.traceparent = event.metadata.traceparent;
      if (event.metadata?.tracestate) metadata.tracestate = event.metadata.tracestate;
      return jsonEvent({ id: event.id, type: event.type, data: event.data, metadata: { ...metadata } });
    });
    try {
      const result = await this.#retrying(`appending to ${stream}`, () =>
        this.#client.appendToStream(stream, payload, { streamState: toStreamState(expected) }),
      );
      const revision = Number(result.nextExpectedRevision);
      // An idempotent retry may come back without a position: read it from the stored event.
      const commit = result.position?.commit;
      const position = commit !== undefined && commit >= 0n ? Number(commit) : await this.#positionOf(stream, revision);
      return { nextExpectedRevision: revision, position };
    } catch (error) {
      if (error instanceof WrongExpectedVersionError) {
        const actual = error.actualState;
        throw new VersionConflictError(
          stream,
          String(expected),
          actual === "no_stream" || (typeof actual === "bigint" && actual < 0n) ? "no_stream" : String(actual),
          error,
        );
      }
      throw this.#toStoreError(error, `appending to ${stream}`);
    }
  }

  async #positionOf(stream: string, revision: number): Promise<number> {
    const [event] = await this.readStream(stream, { fromRevision: revision, maxCount: 1 });
    if (event === undefined) throw new EventStoreUnavailableError(`event ${stream}@${revision} is not readable yet`);
    return event.position;
  }

  async readStream(stream: string, options: ReadStreamOptions = {}): Promise<RecordedEvent[]> {
    this.#assertOpen();
    parseStreamName(stream);
    validateReadOptions(options);
    if (options.maxCount === 0) return [];
    return await this.#retrying(`reading ${stream}`, async () => {
      const events: RecordedEvent[] = [];
      try {
        const reading = this.#client.readStream(stream, {
          fromRevision: BigInt(options.fromRevision ?? 0),
          direction: FORWARDS,
          ...(options.maxCount === undefined ? {} : { maxCount: options.maxCount }),
        });
        for await (const resolved of reading) {
          const event = resolved.event && toRecorded(resolved.event);
          if (event) events.push(event);
        }
      } catch (error) {
        if (error instanceof StreamNotFoundError) return [];
        throw error;
      }
      return events;
    });
  }

  async *readAll(options: ReadAllOptions = {}): AsyncGenerator<RecordedEvent> {
    this.#assertOpen();
    validateReadOptions(options);
    const after = options.afterPosition ?? 0;
    const max = options.maxCount ?? Number.POSITIVE_INFINITY;
    if (max === 0) return;
    let count = 0;
    try {
      // fromPosition is inclusive for reads: the event at `after` itself is skipped below.
      const reading = this.#client.readAll({ fromPosition: positionAfter(after), direction: FORWARDS, filter: excludeSystemEvents() });
      for await (const resolved of reading) {
        const event = resolved.event && toRecorded(resolved.event);
        if (!event || event.position <= after) continue;
        yield event;
        if (++count >= max) return;
      }
    } catch (error) {
      throw this.#toStoreError(error, "reading $all");
    }
  }

  subscribeToAll(options: SubscribeOptions = {}): Subscription {
    this.#assertOpen();
    validateReadOptions(options);
    if (options.category !== undefined) validateCategory(options.category);
    const after = options.afterPosition ?? 0;
    const filter: Filter =
      options.category === undefined ? excludeSystemEvents() : streamNameFilter({ prefixes: [`${options.category}-`] });
    // The head (under the same filter) is read first: events up to it are the catch-up, later ones are live.
    const opening = this.#head(filter);
    const subscription: FeedSubscription = new FeedSubscription((context) => this.#follow(filter, after, opening, context), {
      onClose: async () => {
        this.#subscriptions.delete(subscription);
      },
    });
    void opening.then(
      (head) => {
        if (head <= after) subscription.markCaughtUp();
      },
      (error: unknown) => subscription.fail(this.#toStoreError(error, "subscribing to $all")),
    );
    this.#subscriptions.add(subscription);
    return subscription;
  }

  async *#follow(filter: Filter, after: number, opening: Promise<number>, context: FeedContext): AsyncGenerator<RecordedEvent> {
    const head = await opening;
    if (context.signal.aborted) return;
    const subscription: AllStreamSubscription = this.#client.subscribeToAll({ fromPosition: positionAfter(after), filter });
    const stop = () => void subscription.unsubscribe().catch(() => undefined);
    context.signal.addEventListener("abort", stop, { once: true });
    let boundaryPassed = head <= after;
    try {
      for await (const resolved of subscription) {
        const event = resolved.event && toRecorded(resolved.event);
        if (!event || event.position <= after) continue;
        if (!boundaryPassed && event.position >= head) {
          boundaryPassed = true;
          context.caughtUpAfterThisEvent();
        }
        yield event;
      }
    } catch (error) {
      if (!context.signal.aborted) throw this.#toStoreError(error, "subscription to $all");
    } finally {
      context.signal.removeEventListener("abort", stop);
      await subscription.unsubscribe().catch(() => undefined);
    }
  }

  async #head(filter: Filter): Promise<number> {
    return await this.#retrying("reading the head position", async () => {
      const reading = this.#client.readAll({ direction: BACKWARDS, fromPosition: END, maxCount: 1, filter });
      for await (const resolved of reading) {
        const commit = resolved.event?.position?.commit ?? resolved.commitPosition;
        if (commit !== undefined) return Number(commit);
      }
      return 0;
    });
  }

  async headPosition(): Promise<number> {
    this.#assertOpen();
    return await this.#head(excludeSystemEvents());
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    await Promise.all([...this.#subscriptions].map((subscription) => subscription.close()));
    if (this.#ownsClient) await this.#client.dispose();
  }

  #retrying<T>(what: string, operation: () => Promise<T>): Promise<T> {
    return retrying(what, this.#retry, { isTransient, toStoreError: (error, label) => this.#toStoreError(error, label) }, operation);
  }

  #toStoreError(error: unknown, what: string): EventStoreError {
    if (error instanceof EventStoreError) return error;
    const message = error instanceof Error ? error.message : String(error);
    if (isTransient(error)) return new EventStoreUnavailableError(`${what}: ${message}`, error);
    return new EventStoreError(`${what}: ${message}`, { cause: error, retryable: false });
  }

  #assertOpen(): void {
    if (this.#closed) throw new EventStoreError("the event store is closed", { retryable: false });
  }
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
const GRPC_UNAVAILABLE = 14;
const GRPC_DEADLINE_EXCEEDED = 4;

/** UNAVAILABLE, deadlines, timeouts and "not leader" (a leader election) may pass; the rest will not. */
function isTransient(error: unknown): boolean {
  if (!(error instanceof Error)) return false;
  if (isCommandError(error)) {
    return (
      error.type === ErrorType.UNAVAILABLE ||
      error.type === ErrorType.DEADLINE_EXCEEDED ||
      error.type === ErrorType.TIMEOUT ||
      error.type === ErrorType.NOT_LEADER
    );
  }
  const code = (error as Error & { code?: unknown }).code;
  return code === GRPC_UNAVAILABLE || code === GRPC_DEADLINE_EXCEEDED;
}

function toStreamState(expected: ExpectedRevision): AppendStreamState {
  if (typeof expected === "number") return BigInt(expected);
  return expected;
}

/** Where to start reading `$all` so that the first event after checkpoint `after` is included. */
function positionAfter(after: number): Position | typeof START {
  if (after === 0) return START;
  return { commit: BigInt(after), prepare: BigInt(after) };
}

/** Maps a KurrentDB event to ours; undefined for events not written through this port. */
function toRecorded(event: KurrentRecordedEvent): RecordedEvent | undefined {
  if (!event.isJson || event.position === undefined) return undefined;
  try {
    parseStreamName(event.streamId);
  } catch {
    return undefined;
  }
  const data = event.data;
  if (typeof data !== "object" || data === null || Array.isArray(data)) return undefined;
  const stored = (isObject(event.metadata) ? event.metadata : {}) as StoredMetadata;
  const time = stored.time === undefined ? event.created : new Date(stored.time);
  const metadata: EventMetadata = compactMetadata({
    source: stored.source,
    traceparent: stored.traceparent,
    tracestate: stored.tracestate,
    correlationId: stored.$correlationId,
    causationId: stored.$causationId,
  });
  return {
    id: event.id,
    type: event.type,
    stream: event.streamId,
    revision: Number(event.revision),
    position: Number(event.position.commit),
    time: Number.isNaN(time.getTime()) ? event.created : time,
    data: data as JsonObject,
    metadata,
  };
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value) && !(value instanceof Uint8Array);
}

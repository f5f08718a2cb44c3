import type { StreamConfig } from "@nats-io/jetstream";
import { connect, type NatsConnection } from "@nats-io/transport-node";
import { EventStoreError, InvalidEventError } from "../errors.js";
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
import { JetStreamAppender } from "./appender.js";
import { LogAccess } from "./log-access.js";
import { withDefaults, type JetStreamEventStoreOptions, type ResolvedJetStreamOptions } from "./options.js";
import { headPosition, readAll, readStream } from "./reads.js";
import { toStoreError, withRetry } from "./retry.js";
import { ensureStream, streamConfig } from "./stream-setup.js";
import { JetStreamSubscriptions } from "./subscriptions.js";

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
 * The parts: `stream-setup.ts` (stream config, create-or-verify, the one-time migration from the legacy
 * stream), `appender.ts` (the protocol above), `reads.ts`, `subscriptions.ts` (catch-up subscriptions),
 * sharing `log-access.ts` (connection, clients, consumers).
 *
 * Use `connectJetStreamEventStore` to get a verified instance.
 */
export class JetStreamEventStore implements EventStore {
  readonly #log: LogAccess;
  readonly #ownsConnection: boolean;
  readonly #appender: JetStreamAppender;
  readonly #subscriptions: JetStreamSubscriptions;
  #closed = false;

  constructor(nc: NatsConnection, options: ResolvedJetStreamOptions, { ownsConnection = false } = {}) {
    this.#log = new LogAccess(nc, options);
    this.#ownsConnection = ownsConnection;
    this.#appender = new JetStreamAppender(this.#log);
    this.#subscriptions = new JetStreamSubscriptions(this.#log);
  }

  /** The JetStream stream configuration this store creates. */
  streamConfig(): Partial<StreamConfig> & { name: string } {
    return streamConfig(this.#log.options);
  }

  /**
   * Creates the stream, or checks that the existing one stores and republishes our subjects (and updates its
   * duplicate window); migrates a stream of the layout before RePublish first (see `legacy-migration.ts`).
   */
  async ensureStream(): Promise<void> {
    await ensureStream(this.#log);
  }

  async append(stream: string, events: readonly NewEvent[], options: AppendOptions): Promise<AppendResult> {
    this.#assertOpen();
    return await this.#appender.append(stream, events, options);
  }

  async readStream(stream: string, options: ReadStreamOptions = {}): Promise<RecordedEvent[]> {
    this.#assertOpen();
    return await readStream(this.#log, stream, options);
  }

  async *readAll(options: ReadAllOptions = {}): AsyncGenerator<RecordedEvent> {
    this.#assertOpen();
    yield* readAll(this.#log, options);
  }

  subscribeToAll(options: SubscribeOptions = {}): Subscription {
    this.#assertOpen();
    return this.#subscriptions.subscribeToAll(options);
  }

  async headPosition(): Promise<number> {
    this.#assertOpen();
    return await headPosition(this.#log);
  }

  /** Closes open subscriptions, then the connection when the store opened it. Idempotent. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    await this.#subscriptions.closeAll();
    // Every operation of the store awaits its own replies, so there is nothing to drain; close() also
    // works while the connection is down and reconnecting.
    if (this.#ownsConnection && !this.#log.nc.isClosed()) await this.#log.nc.close();
  }

  #assertOpen(): void {
    if (this.#closed) throw new EventStoreError("the event store is closed", { retryable: false });
  }
}

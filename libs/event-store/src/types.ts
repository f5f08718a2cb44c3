/** A JSON value as stored in event data and metadata. */
export type JsonValue = string | number | boolean | null | JsonValue[] | { [key: string]: JsonValue };
export type JsonObject = { [key: string]: JsonValue };

/** Metadata carried with every event; adapters put these in headers (JetStream) or metadata (KurrentDB). */
export interface EventMetadata {
  /** W3C trace context of the operation that caused the event. */
  traceparent?: string;
  tracestate?: string;
  /** The service that wrote the event (CloudEvents `source`), e.g. "eas/deployer". */
  source?: string;
  correlationId?: string;
  causationId?: string;
}

/** An event to append. `id` makes retries idempotent: the same id is never stored twice. */
export interface NewEvent {
  /** UUID, chosen by the caller so that a retry carries the same id. */
  id: string;
  /** Event type, e.g. "eas.v1.ServiceCreated". */
  type: string;
  /** proto3-JSON data. */
  data: JsonObject;
  metadata?: EventMetadata;
  /** Event time; adapters default it to the time of the append. */
  time?: Date;
}

/** A stored event as read back. */
export interface RecordedEvent {
  id: string;
  type: string;
  /** Stream name, "<category>-<id>", e.g. "service-iris". */
  stream: string;
  /** 0-based position of the event inside its stream. */
  revision: number;
  /** 1-based position of the event in the whole log; strictly increasing. */
  position: number;
  time: Date;
  data: JsonObject;
  metadata: EventMetadata;
}

/**
 * Expected state of a stream before an append:
 * a revision (the revision of its last event), "no_stream", "stream_exists" or "any".
 */
export type ExpectedRevision = number | "no_stream" | "stream_exists" | "any";

export interface AppendOptions {
  expectedRevision: ExpectedRevision;
}

export interface AppendResult {
  /** Revision of the last event now in the stream; pass it as expectedRevision for the next append. */
  nextExpectedRevision: number;
  /** Log position of the last appended event. */
  position: number;
}

export interface ReadStreamOptions {
  /** First revision to read (inclusive); default 0. */
  fromRevision?: number;
  maxCount?: number;
}

export interface ReadAllOptions {
  /** Read events with position > afterPosition; default 0 (from the beginning). */
  afterPosition?: number;
  maxCount?: number;
}

export interface SubscribeOptions {
  /** Deliver events with position > afterPosition; default 0 (from the beginning). */
  afterPosition?: number;
  /** Only streams of this category ("service" for "service-*"). */
  category?: string;
}

/** A catch-up subscription: every stored event after the start position, then live events, in order. */
export interface Subscription extends AsyncIterable<RecordedEvent> {
  /**
   * Resolves once every event that existed when the subscription started has been delivered, and the
   * consumer is done with the last of them (it asked for the next event or stopped iterating); at once
   * when there was none. So after `await caughtUp`, a projection fed by the iteration reflects the log
   * as of the start. Rejects with SubscriptionClosedError when closed before that, or with the error
   * that ended the subscription. Iterate concurrently: nothing is delivered while nobody iterates.
   */
  readonly caughtUp: Promise<void>;
  /** Stops the subscription: a pending `next()` resolves `done`. Idempotent. */
  close(): Promise<void>;
}

/** The event log port. Every adapter passes the same contract suite (`@eas/event-store/testing`). */
export interface EventStore {
  append(stream: string, events: readonly NewEvent[], options: AppendOptions): Promise<AppendResult>;
  /** Events of one stream in revision order; [] when the stream does not exist. */
  readStream(stream: string, options?: ReadStreamOptions): Promise<RecordedEvent[]>;
  /** Stored events of all streams in position order. */
  readAll(options?: ReadAllOptions): AsyncIterable<RecordedEvent>;
  subscribeToAll(options?: SubscribeOptions): Subscription;
  /** Position of the last event in the log, 0 when empty. */
  headPosition(): Promise<number>;
  close(): Promise<void>;
}

export type {
  AppendOptions,
  AppendResult,
  EventMetadata,
  EventStore,
  ExpectedRevision,
  JsonObject,
  JsonValue,
  NewEvent,
  ReadAllOptions,
  ReadStreamOptions,
  RecordedEvent,
  SubscribeOptions,
  Subscription,
} from "./types.js";
export { EventStoreError, EventStoreUnavailableError, InvalidEventError, SubscriptionClosedError, VersionConflictError } from "./errors.js";
export { parseStreamName } from "./stream-name.js";
export type { StreamName } from "./stream-name.js";
export type { RetryPolicy } from "./retry.js";
export { InMemoryEventStore } from "./memory/index.js";
export type { InMemoryEventStoreOptions } from "./memory/index.js";
export { connectJetStreamEventStore, EventHeaders, JetStreamEventStore } from "./jetstream/index.js";
export type { JetStreamEventStoreOptions, ResolvedJetStreamOptions } from "./jetstream/index.js";
// Value import from connect.js only: the KurrentDB client loads on the first connect, not with this package.
export { connectKurrentDbEventStore } from "./kurrentdb/connect.js";
export type { KurrentDbEventStoreOptions } from "./kurrentdb/connect.js";
export type { KurrentDbEventStore } from "./kurrentdb/kurrentdb-event-store.js";

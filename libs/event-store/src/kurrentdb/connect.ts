import type { EventStore } from "../types.js";
import type { RetryPolicy } from "../retry.js";

/** Options of the KurrentDB adapter. */
export interface KurrentDbEventStoreOptions {
  /** e.g. "kurrentdb://admin:changeit@localhost:2113?tls=false" (also accepts esdb:// strings). */
  connectionString: string;
  /** CloudEvents `source` recorded when an event's metadata has none; default "eas". */
  source?: string;
  /** Retries of UNAVAILABLE/deadline failures; default 15 s budget. */
  retry?: Partial<RetryPolicy>;
  /** Time of an append, used when an event has no `time`; default `new Date()`. */
  clock?: () => Date;
}

/**
 * Connects to KurrentDB (or EventStoreDB) and checks that it answers: connect-and-verify.
 *
 * The KurrentDB client (gRPC plus a native bridge, ~0.4 s to load) is imported only here, so that
 * services running on JetStream do not pay for it.
 * @throws EventStoreUnavailableError when the server cannot be reached within the retry budget.
 */
export async function connectKurrentDbEventStore(options: KurrentDbEventStoreOptions): Promise<EventStore> {
  const { openKurrentDbEventStore } = await import("./kurrentdb-event-store.js");
  return await openKurrentDbEventStore(options);
}

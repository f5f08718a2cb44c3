import { randomUUID } from "node:crypto";
import { foldEvents, type Decider } from "@eas/decider";
import { VersionConflictError, type AppendResult, type EventStore } from "@eas/event-store";
import { decodeEvent, toNewEvent, type EasEvent } from "@eas/events";

export interface CommandResult<Event, State> {
  /** What the decision appended; [] when it decided nothing (an idempotent repeat). */
  events: Event[];
  /** The aggregate's state after the decision: the state read from the stream with `events` folded in. */
  state: State;
  /** Log position of the last appended event; undefined when the decision produced no events. */
  position: number | undefined;
  /** Log position of the last event the decision was made on (the stream's tail when it was read). */
  readPosition: number | undefined;
  append?: AppendResult;
}

/**
 * How `executeCommand` retries a version conflict: up to `attempts` decisions in all, each retry after a
 * random pause of 0 to min(`backoffMaxMs`, 2^attempt) ms, so that conflicting writers stop colliding in lockstep.
 */
export interface ConflictRetryPolicy {
  attempts: number;
  backoffMaxMs: number;
}

export const DEFAULT_CONFLICT_RETRY: ConflictRetryPolicy = { attempts: 10, backoffMaxMs: 20 };

export interface ExecuteCommandOptions<Command, Event extends EasEvent, State> {
  store: EventStore;
  /** The aggregate's stream, e.g. `instanceStream(id)`. */
  stream: string;
  decider: Decider<Command, Event, State>;
  command: Command;
  /** CloudEvents `source` of what is appended, e.g. "eas/agent/node-1". */
  source: string;
  /** Defaults to {@link DEFAULT_CONFLICT_RETRY}. */
  retry?: Partial<ConflictRetryPolicy>;
  /** Source of the retry jitter; tests pass a fixed one. */
  random?: () => number;
}

/**
 * The one way events are written: read the aggregate's stream, fold it with the decider, decide, and append
 * with the last revision read as the expected revision (optimistic concurrency).
 *
 * - A version conflict (someone appended in between) is retried per {@link ConflictRetryPolicy}: re-read,
 *   decide again on the new state. A burst of commands on one aggregate is then served, not refused.
 *   After the last attempt the {@link VersionConflictError} is thrown, with nothing written.
 * - A decision error (a `DomainError` such as a refused transition) is thrown as is, with nothing written.
 * - Transient store failures are retried by the store adapter itself (same event ids, so de-duplicated).
 * - Trace context: the store adapter copies the active OpenTelemetry context into each event's metadata
 *   (`traceparent`); nothing here adds it again.
 */
export async function executeCommand<Command, Event extends EasEvent, State>(
  options: ExecuteCommandOptions<Command, Event, State>,
): Promise<CommandResult<Event, State>> {
  const { store, stream, decider, command } = options;
  const { attempts, backoffMaxMs } = { ...DEFAULT_CONFLICT_RETRY, ...options.retry };
  const random = options.random ?? Math.random;
  for (let attempt = 1; ; attempt++) {
    const recorded = await store.readStream(stream);
    // Deciders are total: events of types they do not handle leave the state unchanged.
    const read = foldEvents(
      decider,
      recorded.flatMap((r) => {
        const e = decodeEvent(r);
        return e ? [e as Event] : [];
      }),
    );
    const events = decider.decide(command, read);
    const readPosition = recorded.at(-1)?.position;
    if (events.length === 0) return { events, state: read, position: undefined, readPosition };
    const expectedRevision = recorded.length === 0 ? "no_stream" : recorded[recorded.length - 1]!.revision;
    try {
      const append = await store.append(
        stream,
        events.map((e) => toNewEvent(e, randomUUID(), { source: options.source })),
        { expectedRevision },
      );
      const state = events.reduce((s, e) => decider.evolve(s, e), read);
      return { events, state, position: append.position, readPosition, append };
    } catch (error) {
      if (!(error instanceof VersionConflictError) || attempt >= attempts) throw error;
      await new Promise((resolve) => setTimeout(resolve, random() * Math.min(backoffMaxMs, 2 ** attempt)));
    }
  }
}

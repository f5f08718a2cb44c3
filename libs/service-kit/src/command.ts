import { randomUUID } from "node:crypto";
import type { Decider } from "@eas/decider";
import { VersionConflictError, type AppendResult, type EventMetadata, type EventStore } from "@eas/event-store";
import { decodeEvent, toNewEvent, type EasEvent } from "@eas/events";
import { injectTraceContext } from "@eas/telemetry";

export interface CommandResult<Event> {
  events: Event[];
  /** Log position of the last appended event; undefined when the decision produced no events. */
  position: number | undefined;
  /** Log position of the last event the decision was made on (the stream's tail when it was read). */
  readPosition: number | undefined;
  append?: AppendResult;
}

/** Conflicting writers of one stream retry after a random pause, so that they stop colliding in lockstep. */
const CONFLICT_BACKOFF_MAX_MS = 20;

/**
 * Loads an aggregate from its stream, decides, and appends with optimistic concurrency.
 * On a version conflict it waits a random moment, re-reads and decides again (at most `attempts` times):
 * a burst of commands on one aggregate (20 concurrent scales) is then served, not answered ABORTED.
 */
export async function executeCommand<Command, Event extends EasEvent, State>(options: {
  store: EventStore;
  stream: string;
  decider: Decider<Command, Event, State>;
  command: Command;
  source: string;
  attempts?: number;
  random?: () => number;
}): Promise<CommandResult<Event>> {
  const { store, stream, decider, command } = options;
  const attempts = options.attempts ?? 10;
  const random = options.random ?? Math.random;
  for (let attempt = 1; ; attempt++) {
    const recorded = await store.readStream(stream);
    let state = decider.initialState();
    for (const r of recorded) {
      const e = decodeEvent(r);
      if (e) state = decider.evolve(state, e as Event);
    }
    const events = decider.decide(command, state);
    const readPosition = recorded.at(-1)?.position;
    if (events.length === 0) return { events, position: undefined, readPosition };
    const metadata: EventMetadata = { source: options.source, ...injectTraceContext() };
    const expectedRevision = recorded.length === 0 ? "no_stream" : recorded[recorded.length - 1]!.revision;
    try {
      const append = await store.append(
        stream,
        events.map((e) => toNewEvent(e, randomUUID(), metadata)),
        { expectedRevision },
      );
      return { events, position: append.position, readPosition, append };
    } catch (error) {
      if (!(error instanceof VersionConflictError) || attempt >= attempts) throw error;
      await new Promise((resolve) => setTimeout(resolve, random() * Math.min(CONFLICT_BACKOFF_MAX_MS, 2 ** attempt)));
    }
  }
}

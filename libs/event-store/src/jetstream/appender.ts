import { JetStreamApiCodes, JetStreamApiError } from "@nats-io/jetstream";
import { EventStoreUnavailableError, InvalidEventError, VersionConflictError } from "../errors.js";
import { describeRevision, expectedFirstRevision, satisfies, validateAppend } from "../stream-name.js";
import { sleep } from "../subscription.js";
import { withActiveTraceContext } from "../trace-context.js";
import type { AppendOptions, AppendResult, ExpectedRevision, NewEvent } from "../types.js";
import { encodeEvent, EventHeaders, subjectOfStream } from "./cloudevents.js";
import type { LogAccess } from "./log-access.js";
import { withRetry } from "./retry.js";

interface StreamTail {
  seq: number;
  revision: number;
  /** Set when the tail is an event of a multi-event append that is still being written. */
  midBatch?: { eventId: string };
}

type PublishOutcome = { kind: "stored"; seq: number } | { kind: "duplicate"; seq: number } | { kind: "wrong_sequence" };

/** An expected last subject sequence no subject can have: used to probe idempotency without writing. */
const IMPOSSIBLE_SEQUENCE = Number.MAX_SAFE_INTEGER;
/** Rounds of re-reading the tail for "any"/"stream_exists" appends that lose a race. */
const MAX_RACE_ROUNDS = 20;
/** How long an append waits for another writer's multi-event append to complete before appending after it. */
const BATCH_SETTLE_MS = 2_000;
/** Streams whose tail (sequence, revision) a store remembers from its own appends. */
const MAX_REMEMBERED_TAILS = 10_000;

/**
 * Appends with optimistic concurrency and idempotency (see `JetStreamEventStore` for the protocol), and
 * remembers the tail of the streams it appended to so that the next append to one skips reading it.
 */
export class JetStreamAppender {
  readonly #log: LogAccess;
  /** Subject -> tail after this store's last append to it, oldest first (bounded). */
  readonly #tails = new Map<string, StreamTail>();

  constructor(log: LogAccess) {
    this.#log = log;
  }

  async append(stream: string, newEvents: readonly NewEvent[], options: AppendOptions): Promise<AppendResult> {
    const expected = options?.expectedRevision;
    const { category, id } = validateAppend(stream, newEvents, expected);
    const events = newEvents.map(withActiveTraceContext);
    const subject = subjectOfStream(category, id, this.#log.options.logSubjectPrefix);
    const now = this.#log.options.clock();
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
    const defaults = { time: now, source: this.#log.options.source };
    const { headers, body } = encodeEvent(event, stream, revision, defaults, events.length - 1 - index);
    return await withRetry(`appending to ${stream}`, this.#log.options.retry, async () => {
      try {
        const ack = await this.#log.js.publish(subject, body, {
          msgID: event.id,
          headers,
          expect: { lastSubjectSequence: expectedSequence },
          timeout: this.#log.options.requestTimeoutMs,
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
    const message = await this.#log.lastMessage(subject);
    if (message === null) return null;
    const event = this.#log.decodeStored(message);
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

  /** The stored message a duplicate ack points at; it must belong to the same subject. */
  async #storedTail(seq: number, subject: string): Promise<StreamTail> {
    const jsm = await this.#log.jsm();
    const message = await withRetry(`reading position ${seq}`, this.#log.options.retry, () =>
      jsm.streams.getMessage(this.#log.options.streamName, { seq }),
    );
    if (message === null) throw new EventStoreUnavailableError(`event at position ${seq} vanished`);
    const event = this.#log.decodeStored(message);
    if (message.subject !== subject) {
      throw new InvalidEventError(`event id ${event.id} is already used in stream ${event.stream}`);
    }
    return { seq, revision: event.revision };
  }
}

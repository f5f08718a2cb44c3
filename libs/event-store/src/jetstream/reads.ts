import { EventStoreUnavailableError } from "../errors.js";
import { parseStreamName, validateReadOptions } from "../stream-name.js";
import type { ReadAllOptions, ReadStreamOptions, RecordedEvent } from "../types.js";
import { subjectOfStream } from "./cloudevents.js";
import { PULL_EXPIRES_MS, type LogAccess } from "./log-access.js";
import { toStoreError, withRetry } from "./retry.js";

/** One stream's events from `fromRevision`: a snapshot up to its last event when the read began. */
export async function readStream(log: LogAccess, stream: string, options: ReadStreamOptions = {}): Promise<RecordedEvent[]> {
  const { category, id } = parseStreamName(stream);
  validateReadOptions(options);
  const from = options.fromRevision ?? 0;
  const max = options.maxCount ?? Number.POSITIVE_INFINITY;
  if (max === 0) return [];
  const subject = subjectOfStream(category, id, log.options.logSubjectPrefix);
  const last = await log.lastMessage(subject);
  if (last === null) return [];
  const lastEvent = log.decodeStored(last);
  if (from > lastEvent.revision) return [];
  // Reading the latest event alone (a common "where is this aggregate" query) needs no consumer.
  if (from === lastEvent.revision) return [lastEvent];
  const events: RecordedEvent[] = [];
  for await (const event of scan(log, subject, 1)) {
    if (event.revision < from) continue;
    events.push(event);
    if (events.length >= max || event.revision >= lastEvent.revision) break;
  }
  return events;
}

/** The whole log after `afterPosition`, up to the last event when the read began. */
export async function* readAll(log: LogAccess, options: ReadAllOptions = {}): AsyncGenerator<RecordedEvent> {
  validateReadOptions(options);
  const max = options.maxCount ?? Number.POSITIVE_INFINITY;
  if (max === 0) return;
  let count = 0;
  for await (const event of scan(log, `${log.options.logSubjectPrefix}.>`, (options.afterPosition ?? 0) + 1)) {
    yield event;
    if (++count >= max) return;
  }
}

export async function headPosition(log: LogAccess): Promise<number> {
  const jsm = await log.jsm();
  const info = await withRetry("reading the head position", log.options.retry, () => jsm.streams.info(log.options.streamName));
  return info.state.last_seq;
}

/** Stored events matching `filter` from `startSeq` up to the last one pending when the read began. */
async function* scan(log: LogAccess, filter: string, startSeq: number): AsyncGenerator<RecordedEvent> {
  const opened = await log.openConsumer(filter, startSeq);
  try {
    if (opened.pending === 0) return;
    let remaining = opened.pending;
    const messages = await opened.consumer.consume({ max_messages: Math.min(remaining, 512), expires: PULL_EXPIRES_MS });
    const idle = new IdleTimer(log.options.readIdleTimeoutMs, () =>
      messages.stop(new EventStoreUnavailableError(`no event arrived for ${log.options.readIdleTimeoutMs} ms while reading ${filter}`)),
    );
    try {
      for await (const message of messages) {
        idle.reset();
        remaining--;
        yield log.decodeDelivered(message);
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
    await log.deleteConsumer(opened.consumer);
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

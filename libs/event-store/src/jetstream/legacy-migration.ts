import { JetStreamApiCodes, JetStreamApiError, type JetStreamClient, type JetStreamManager, type StreamInfo } from "@nats-io/jetstream";
import { headers as natsHeaders, type MsgHdrs } from "@nats-io/transport-node";
import { EventStoreError } from "../errors.js";
import type { RetryPolicy } from "../retry.js";
import { sleep } from "../subscription.js";
import { withRetry } from "./retry.js";

/**
 * Moving a log from the layout before RePublish (one stream, default `EAS_EVENTS`, storing events on the
 * public subjects `eas.events.>`) to the current one (stream `EAS_LOG` storing on `eas.log.>` and
 * republishing to `eas.events.>`). nats-server 2.9 can neither rename a stream, nor rewrite stored subjects,
 * nor add RePublish to an existing stream, so the events are copied, keeping every position: checkpoints
 * and clients hold positions.
 *
 * Every process that opens the store runs this; it is safe concurrently and resumable after a crash:
 *  1. park: the legacy stream's subjects become `<legacy>.parked.>`, so it stores nothing more (appends by
 *     a process still running old code fail instead of being lost later, and republished copies are not
 *     captured by it);
 *  2. the caller creates the new stream;
 *  3. copy: each legacy message is published to the new stream with the expected last stream sequence
 *     `seq - 1`, so it lands at the same position or not at all (two copiers never write one event twice);
 *  4. the legacy stream is deleted once the new one holds its last event at the same position.
 * The copies are republished like any stored event: a live subscriber during the migration sees the old
 * events once, in order.
 */
export interface LegacyLayout {
  legacyStreamName: string;
  /** Where the legacy stream stored events and where the new one republishes them ("eas.events"). */
  subjectPrefix: string;
  streamName: string;
  logSubjectPrefix: string;
  retry: RetryPolicy;
}

/** Messages published before waiting for their acknowledgements. */
const COPY_WINDOW = 256;
/** How long a copier that lost a race waits for the other one before it copies again. */
const RACE_BACKOFF_MS = 200;

/** Step 1: stops the legacy stream from capturing subjects. Returns its state, or null when there is none. */
export async function parkLegacyStream(jsm: JetStreamManager, layout: LegacyLayout): Promise<StreamInfo | null> {
  const { legacyStreamName } = layout;
  return await withRetry(`parking the legacy stream ${legacyStreamName}`, layout.retry, async () => {
    let info: StreamInfo;
    try {
      info = await jsm.streams.info(legacyStreamName);
    } catch (error) {
      if (error instanceof JetStreamApiError && error.code === JetStreamApiCodes.StreamNotFound) return null;
      throw error;
    }
    const parked = `${legacyStreamName}.parked.>`;
    const subjects = JSON.stringify(info.config.subjects ?? []);
    if (subjects === JSON.stringify([`${layout.subjectPrefix}.>`])) {
      info = await jsm.streams.update(legacyStreamName, { ...info.config, subjects: [parked] });
    } else if (subjects !== JSON.stringify([parked])) {
      throw new EventStoreError(
        `stream ${legacyStreamName} exists with subjects ${subjects}: not an event log of the layout before ` +
          `${layout.streamName} (${layout.subjectPrefix}.>), so it is not migrated; rename or remove it`,
        { retryable: false },
      );
    }
    const { first_seq, last_seq, messages } = info.state;
    if (messages > 0 && (first_seq !== 1 || messages !== last_seq)) {
      throw new EventStoreError(
        `cannot migrate stream ${legacyStreamName} to ${layout.streamName}: it holds ${messages} events at positions ` +
          `${first_seq}..${last_seq}, not 1..${messages}, so their positions cannot be kept`,
        { retryable: false },
      );
    }
    return info;
  });
}

/** Steps 3 and 4: copies the legacy events to the new stream at the same positions, then deletes the legacy stream. */
export async function copyLegacyStream(
  jsm: JetStreamManager,
  js: JetStreamClient,
  layout: LegacyLayout,
  legacy: StreamInfo,
): Promise<void> {
  try {
    await copyAll(jsm, js, layout, legacy.state.last_seq);
  } catch (error) {
    // Another process may have finished the migration and deleted the legacy stream under our feet.
    if ((await legacyExists(jsm, layout)) || (await lastSequence(jsm, layout)) < legacy.state.last_seq) throw error;
  }
}

async function legacyExists(jsm: JetStreamManager, layout: LegacyLayout): Promise<boolean> {
  return await withRetry(`looking for ${layout.legacyStreamName}`, layout.retry, () =>
    jsm.streams.info(layout.legacyStreamName).then(
      () => true,
      (error: unknown) => {
        if (error instanceof JetStreamApiError && error.code === JetStreamApiCodes.StreamNotFound) return false;
        throw error;
      },
    ),
  );
}

async function copyAll(jsm: JetStreamManager, js: JetStreamClient, layout: LegacyLayout, last: number): Promise<void> {
  let copied = await lastSequence(jsm, layout);
  let racing = false;
  while (copied < last) {
    if (racing) await sleep(RACE_BACKOFF_MS);
    const before = copied;
    racing = !(await copyFrom(js, layout, copied + 1, last));
    copied = await lastSequence(jsm, layout);
    // Another copier moving ahead is fine; only a lost race with no progress at all is retried at once.
    if (racing && copied === before) racing = false;
  }
  if (last > 0) await verifySameEvent(jsm, layout, last);
  await withRetry(`deleting the migrated stream ${layout.legacyStreamName}`, layout.retry, async () => {
    await jsm.streams.delete(layout.legacyStreamName).catch((error: unknown) => {
      if (!(error instanceof JetStreamApiError && error.code === JetStreamApiCodes.StreamNotFound)) throw error;
    });
  });
}

async function lastSequence(jsm: JetStreamManager, layout: LegacyLayout): Promise<number> {
  const info = await withRetry(`reading ${layout.streamName}`, layout.retry, () => jsm.streams.info(layout.streamName));
  return info.state.last_seq;
}

/**
 * Copies legacy events `from..last`. Returns false when another writer stored something first (a
 * concurrent copier, normally): the caller re-reads where the new stream is.
 */
async function copyFrom(js: JetStreamClient, layout: LegacyLayout, from: number, last: number): Promise<boolean> {
  const consumer = await withRetry(`reading ${layout.legacyStreamName}`, layout.retry, () =>
    js.consumers.get(layout.legacyStreamName, { opt_start_seq: from, inactive_threshold: 60_000 }),
  );
  try {
    let next = from;
    while (next <= last) {
      const batch = await consumer.fetch({ max_messages: Math.min(COPY_WINDOW, last - next + 1), expires: 2_000 });
      const acks: Promise<boolean>[] = [];
      for await (const message of batch) {
        if (message.seq !== next) {
          throw new EventStoreError(`migrating ${layout.legacyStreamName}: expected position ${next}, read ${message.seq}`, {
            retryable: false,
          });
        }
        acks.push(publishCopy(js, layout, message.subject, message.headers, message.data, message.seq));
        next++;
      }
      if (!(await Promise.all(acks)).every(Boolean)) return false;
    }
    return true;
  } finally {
    await consumer.delete().catch(() => undefined);
  }
}

async function publishCopy(
  js: JetStreamClient,
  layout: LegacyLayout,
  subject: string,
  original: MsgHdrs | undefined,
  data: Uint8Array,
  seq: number,
): Promise<boolean> {
  const prefix = `${layout.subjectPrefix}.`;
  if (!subject.startsWith(prefix)) {
    throw new EventStoreError(`migrating ${layout.legacyStreamName}: the event at position ${seq} is on ${subject}, not under ${prefix}>`, {
      retryable: false,
    });
  }
  const headers = natsHeaders();
  // The server's own headers (message id, expectations of the original append) would apply again: leave them.
  for (const key of original?.keys() ?? []) if (!key.toLowerCase().startsWith("nats-")) headers.set(key, original!.get(key));
  try {
    await js.publish(`${layout.logSubjectPrefix}.${subject.slice(prefix.length)}`, data, { headers, expect: { lastSequence: seq - 1 } });
    return true;
  } catch (error) {
    if (error instanceof JetStreamApiError && error.code === JetStreamApiCodes.StreamWrongLastSequence) return false;
    throw error;
  }
}

/** The new stream's event at `seq` must be the legacy one (same `ce-id`): nothing else was appended in between. */
async function verifySameEvent(jsm: JetStreamManager, layout: LegacyLayout, seq: number): Promise<void> {
  const [copy, original] = await Promise.all([
    withRetry("reading a migrated event", layout.retry, () => jsm.streams.getMessage(layout.streamName, { seq })),
    withRetry("reading a legacy event", layout.retry, () => jsm.streams.getMessage(layout.legacyStreamName, { seq })),
  ]);
  const id = (message: typeof copy) => message?.header.get("ce-id");
  if (copy === null || original === null || id(copy) !== id(original)) {
    throw new EventStoreError(
      `cannot finish migrating ${layout.legacyStreamName}: position ${seq} of ${layout.streamName} holds another event ` +
        `(${id(copy) ?? "none"}, expected ${id(original) ?? "none"}); the legacy stream is kept`,
      { retryable: false },
    );
  }
}

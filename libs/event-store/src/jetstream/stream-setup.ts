import {
  DiscardPolicy,
  JetStreamApiCodes,
  JetStreamApiError,
  RetentionPolicy,
  StorageType,
  type JetStreamManager,
  type StreamConfig,
} from "@nats-io/jetstream";
import { EventStoreError } from "../errors.js";
import { copyLegacyStream, parkLegacyStream } from "./legacy-migration.js";
import type { LogAccess } from "./log-access.js";
import type { ResolvedJetStreamOptions } from "./options.js";
import { withRetry } from "./retry.js";

/** The JetStream stream configuration the store creates: stores `<logSubjectPrefix>.>`, republishes to `<subjectPrefix>.>`. */
export function streamConfig(options: ResolvedJetStreamOptions): Partial<StreamConfig> & { name: string } {
  return {
    name: options.streamName,
    subjects: [`${options.logSubjectPrefix}.>`],
    // What the stream stored, once each, in stream order, on the public subjects: an outside subscriber
    // never sees an append the stream rejected (it would on the subjects appends are published to).
    republish: { src: `${options.logSubjectPrefix}.>`, dest: `${options.subjectPrefix}.>` },
    storage: StorageType.File,
    retention: RetentionPolicy.Limits,
    discard: DiscardPolicy.Old,
    num_replicas: options.replicas,
    duplicate_window: options.duplicateWindowMs * 1_000_000,
    // An event log is append-only: no deleting or purging single events.
    deny_delete: true,
    deny_purge: true,
  };
}

/**
 * Creates the stream, or checks that the existing one stores and republishes our subjects (and updates its
 * duplicate window); migrates a stream of the layout before RePublish first (see `legacy-migration.ts`).
 */
export async function ensureStream(log: LogAccess): Promise<void> {
  const jsm = await log.jsm();
  const { streamName, logSubjectPrefix, subjectPrefix, legacyStreamName, retry } = log.options;
  const layout = legacyStreamName === undefined ? undefined : { legacyStreamName, subjectPrefix, streamName, logSubjectPrefix, retry };
  const legacy = layout === undefined ? null : await parkLegacyStream(jsm, layout);
  await createOrVerifyStream(jsm, log.options);
  if (layout !== undefined && legacy !== null) await copyLegacyStream(jsm, log.js, layout, legacy);
}

async function createOrVerifyStream(jsm: JetStreamManager, options: ResolvedJetStreamOptions): Promise<void> {
  const wanted = streamConfig(options);
  const { streamName, logSubjectPrefix, subjectPrefix } = options;
  await withRetry(`creating or verifying stream ${streamName}`, options.retry, async () => {
    let info;
    try {
      info = await jsm.streams.info(streamName);
    } catch (error) {
      if (!(error instanceof JetStreamApiError && error.code === JetStreamApiCodes.StreamNotFound)) throw error;
      try {
        await jsm.streams.add(wanted);
        return;
      } catch (addError) {
        // Another process created it between our info and add: verify theirs.
        if (!(addError instanceof JetStreamApiError && addError.code === 10058)) throw addError;
        info = await jsm.streams.info(streamName);
      }
    }
    if (!info.config.subjects?.includes(`${logSubjectPrefix}.>`)) {
      throw new EventStoreError(
        `stream ${streamName} exists with subjects ${JSON.stringify(info.config.subjects)}, not ${logSubjectPrefix}.>`,
        { retryable: false },
      );
    }
    const republish = info.config.republish;
    if (republish?.src !== wanted.republish!.src || republish?.dest !== wanted.republish!.dest || republish?.headers_only) {
      // nats-server refuses to change RePublish on an existing stream.
      throw new EventStoreError(
        `stream ${streamName} exists without RePublish of ${logSubjectPrefix}.> to ${subjectPrefix}.> ` +
          `(it has ${JSON.stringify(republish ?? null)}); nats-server cannot add it to an existing stream`,
        { retryable: false },
      );
    }
    if (info.config.duplicate_window !== wanted.duplicate_window) {
      await jsm.streams.update(streamName, { ...info.config, duplicate_window: wanted.duplicate_window });
    }
  });
}

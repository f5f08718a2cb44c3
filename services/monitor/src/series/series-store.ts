import {
  DeliverPolicy,
  DiscardPolicy,
  JetStreamApiError,
  RetentionPolicy,
  StorageType,
  type JetStreamClient,
  type StreamConfig,
} from "@nats-io/jetstream";
import { defineEncodedSubject, type Bus } from "@eas/bus";
import { SeriesPoint } from "@eas/proto";
import type { Tier } from "../domain/query.js";

export interface SeriesStoreOptions {
  bus: Bus;
  /** How long each tier is kept (the streams' max age). */
  retentionMs: Record<Tier, number>;
  /** JetStream replicas of the streams; 1 on one server, 3 in a cluster. */
  replicas?: number;
}

/** Where the series live: one JetStream stream per tier, one subject per service (ADR 0019). */
export interface SeriesStore {
  ensureStreams(): Promise<void>;
  write(tier: Tier, points: readonly SeriesPoint[]): Promise<void>;
  /** Points of one service, or of every service, whose start lies in [fromMs, toMs), in stream order. */
  read(tier: Tier, service: string | undefined, fromMs: number, toMs: number): Promise<SeriesPoint[]>;
}

export const SERIES_STREAMS: Record<Tier, { name: string; prefix: string }> = {
  "1s": { name: "EAS_SERIES_1S", prefix: "eas.series.1s" },
  "1m": { name: "EAS_SERIES_1M", prefix: "eas.series.1m" },
};

/** Points are stored when their interval closes; reading from a little before `from` catches every point of the range. */
const STORE_DELAY_SLACK_MS = 30_000;
const STREAM_NOT_FOUND = 10059;
const STREAM_NAME_IN_USE = 10058;

/** 1-second points, published plainly (the stream captures the subject); untraced. */
const secondPoints = defineEncodedSubject<SeriesPoint>(
  `${SERIES_STREAMS["1s"].prefix}.*`,
  { encode: (point) => SeriesPoint.encode(point).finish(), decode: (data) => SeriesPoint.decode(data) },
  { traced: false },
);

export function createSeriesStore(options: SeriesStoreOptions): SeriesStore {
  const { bus } = options;
  const js: JetStreamClient = bus.jetstream();

  const streamConfig = (tier: Tier): Partial<StreamConfig> & { name: string } => ({
    name: SERIES_STREAMS[tier].name,
    subjects: [`${SERIES_STREAMS[tier].prefix}.>`],
    storage: StorageType.File,
    retention: RetentionPolicy.Limits,
    discard: DiscardPolicy.Old,
    num_replicas: options.replicas ?? 1,
    // Nanoseconds. A point written again after a restart (same msg id) is dropped within this window.
    max_age: options.retentionMs[tier] * 1_000_000,
    duplicate_window: Math.min(options.retentionMs[tier], 10 * 60_000) * 1_000_000,
  });

  return {
    async ensureStreams() {
      const jsm = await bus.jetstreamManager();
      for (const tier of ["1s", "1m"] as const) {
        const wanted = streamConfig(tier);
        try {
          const info = await jsm.streams.info(wanted.name);
          if (info.config.max_age !== wanted.max_age || info.config.duplicate_window !== wanted.duplicate_window) {
            await jsm.streams.update(wanted.name, { ...info.config, max_age: wanted.max_age, duplicate_window: wanted.duplicate_window });
          }
        } catch (error) {
          if (!(error instanceof JetStreamApiError) || error.code !== STREAM_NOT_FOUND) throw error;
          await jsm.streams.add(wanted).catch((addError: unknown) => {
            if (!(addError instanceof JetStreamApiError) || addError.code !== STREAM_NAME_IN_USE) throw addError;
          });
        }
      }
    },

    async write(tier, points) {
      if (tier === "1s") {
        // A thousand points a second: published without a JetStream ack each (the stream captures the
        // subject), then one flush, far cheaper than a thousand acknowledged publishes. A point written
        // twice (after a restart) is read once: readers keep the last point of each second.
        for (const point of points) bus.publish(secondPoints.with(point.service), point);
        await bus.flush();
        return;
      }
      const prefix = SERIES_STREAMS[tier].prefix;
      await Promise.all(
        points.map((point) =>
          js.publish(`${prefix}.${point.service}`, SeriesPoint.encode(point).finish(), {
            msgID: `${tier}:${point.service}:${point.startMs}`,
          }),
        ),
      );
    },

    async read(tier, service, fromMs, toMs) {
      const filter = `${SERIES_STREAMS[tier].prefix}.${service ?? ">"}`;
      const consumer = await js.consumers.get(SERIES_STREAMS[tier].name, {
        filter_subjects: filter,
        deliver_policy: DeliverPolicy.StartTime,
        opt_start_time: new Date(Math.max(0, fromMs - STORE_DELAY_SLACK_MS)).toISOString(),
      });
      const points: SeriesPoint[] = [];
      try {
        let remaining = (await consumer.info(true)).num_pending;
        if (remaining === 0) return points;
        const messages = await consumer.consume({ max_messages: Math.min(remaining, 1024) });
        for await (const message of messages) {
          remaining--;
          const point = SeriesPoint.decode(message.data);
          if (point.startMs >= fromMs && point.startMs < toMs) points.push(point);
          // Stop at what was stored when the read began: later points belong to later reads.
          if (remaining <= 0 || message.info.pending === 0 || point.startMs >= toMs + STORE_DELAY_SLACK_MS) break;
        }
        messages.stop();
      } finally {
        await consumer.delete().catch(() => undefined);
      }
      return points;
    },
  };
}

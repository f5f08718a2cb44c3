import {
  AckPolicy,
  DeliverPolicy,
  DiscardPolicy,
  RetentionPolicy,
  StorageType,
  type ConsumerConfig,
  type JetStreamManager,
  type StreamConfig,
} from "@nats-io/jetstream";
import type { Kvm } from "@nats-io/kv";
import { ASYNC_DEAD_LETTER_STREAM_PREFIX, ASYNC_QUEUE_STREAM_PREFIX, ASYNC_RESULTS_BUCKET_PREFIX, asyncQueueLayout } from "@eas/contracts";
import type { AsyncConfig } from "@eas/proto";

/** Room for a queued request's headers on top of its body. */
const HEADER_ROOM_BYTES = 64 * 1024;
/** Largest stored result: what one NATS message holds by default, less room for its record. */
export const MAX_RESULT_BYTES = 1024 * 1024 - HEADER_ROOM_BYTES;
const NANOS_PER_MS = 1_000_000;

export interface TopologySettings {
  /** How long JetStream waits for an attempt's end before it hands the request out again (the dispatcher is gone). */
  ackWaitMs: number;
  /** How long dead letters are kept, unless redriven first. */
  deadLetterRetentionMs: number;
  /** Stream replicas: 1 on one server, 3 on a cluster. */
  replicas: number;
}

/** The shared streams of the async-queue, besides each service's own. */
export const CALLBACKS_STREAM = "EAS_ASYNC_CALLBACKS";
export const CALLBACKS_SUBJECTS = "eas.async.cb.>";
export const CALLBACKS_CONSUMER = "callbacks";
export const callbackSubject = (service: string, requestId: string): string => `eas.async.cb.${service}.${requestId}`;
export const BATCH_OUTPUT_STREAM = "EAS_BATCH_OUTPUT";
export const BATCH_OUTPUT_SUBJECTS = "eas.batch.out.>";
export const batchOutputSubject = (jobId: string): string => `eas.batch.out.${jobId}`;
/** Staged outputs of a job are kept this long at most (a job that outlives it has lost its staging). */
const BATCH_OUTPUT_MAX_AGE_MS = 30 * 86_400_000;

/**
 * Creates, updates and removes what each async service's queue is made of on JetStream (ADR 0029): the
 * work-queue stream and its two consumers, the results bucket, the dead-letter stream. Every call is
 * idempotent: the async-queue reconciles them with the services the log holds at every start and change.
 */
export class QueueTopology {
  readonly #jsm: JetStreamManager;
  readonly #kvm: Kvm;
  readonly #settings: TopologySettings;

  constructor(jsm: JetStreamManager, kvm: Kvm, settings: TopologySettings) {
    this.#jsm = jsm;
    this.#kvm = kvm;
    this.#settings = settings;
  }

  /** The callbacks stream and the batch jobs' output staging. */
  async ensureShared(): Promise<void> {
    await this.#ensureStream({
      name: CALLBACKS_STREAM,
      subjects: [CALLBACKS_SUBJECTS],
      retention: RetentionPolicy.Workqueue,
      storage: StorageType.File,
      num_replicas: this.#settings.replicas,
      duplicate_window: 120_000 * NANOS_PER_MS,
    });
    await this.#ensureConsumer(CALLBACKS_STREAM, {
      durable_name: CALLBACKS_CONSUMER,
      ack_policy: AckPolicy.Explicit,
      ack_wait: this.#settings.ackWaitMs * NANOS_PER_MS,
      max_deliver: -1,
      max_ack_pending: 10_000,
    });
    await this.#ensureStream({
      name: BATCH_OUTPUT_STREAM,
      subjects: [BATCH_OUTPUT_SUBJECTS],
      retention: RetentionPolicy.Limits,
      storage: StorageType.File,
      num_replicas: this.#settings.replicas,
      max_age: BATCH_OUTPUT_MAX_AGE_MS * NANOS_PER_MS,
      duplicate_window: 120_000 * NANOS_PER_MS,
      // A runner that starts again reads its job's last staged chunk by subject.
      allow_direct: true,
    });
  }

  /** The queue of `service` with `config`'s limits, created or brought up to date. */
  async ensureService(service: string, config: AsyncConfig): Promise<void> {
    const layout = asyncQueueLayout(service);
    const replicas = this.#settings.replicas;
    await this.#ensureStream({
      name: layout.stream,
      subjects: [layout.subjects],
      retention: RetentionPolicy.Workqueue,
      storage: StorageType.File,
      num_replicas: replicas,
      // The queue's limit is the stream's: a submission past it is refused by JetStream itself (450), atomically.
      max_msgs: config.maxLength,
      discard: DiscardPolicy.New,
      max_msg_size: config.maxPayloadBytes + HEADER_ROOM_BYTES,
      duplicate_window: 120_000 * NANOS_PER_MS,
      // The gateway looks a pending request up by subject.
      allow_direct: true,
    });
    for (const [durable, filter] of [
      [layout.priorityConsumer, layout.priorityFilter],
      [layout.normalConsumer, layout.normalFilter],
    ] as const) {
      await this.#ensureConsumer(layout.stream, {
        durable_name: durable,
        filter_subject: filter,
        ack_policy: AckPolicy.Explicit,
        deliver_policy: DeliverPolicy.All,
        ack_wait: this.#settings.ackWaitMs * NANOS_PER_MS,
        // Attempts are counted in the request's record, not by deliveries (ADR 0030).
        max_deliver: -1,
        max_ack_pending: 100_000,
      });
    }
    await this.#ensureResults(layout.resultsBucket, config.resultRetentionSeconds * 1000);
    await this.#ensureStream({
      name: layout.deadLetterStream,
      subjects: [layout.deadLetterSubjects],
      retention: RetentionPolicy.Limits,
      storage: StorageType.File,
      num_replicas: replicas,
      max_msgs_per_subject: 1,
      max_age: this.#settings.deadLetterRetentionMs * NANOS_PER_MS,
      allow_direct: true,
    });
  }

  /** Removes the queue of a deleted service, with its requests, results and dead letters. */
  async removeService(service: string): Promise<void> {
    const layout = asyncQueueLayout(service);
    for (const stream of [layout.stream, layout.deadLetterStream, `KV_${layout.resultsBucket}`]) {
      await this.#jsm.streams.delete(stream).catch((error: unknown) => {
        if (!isNotFound(error)) throw error;
      });
    }
  }

  /** The services whose queues exist now. */
  async existingServices(): Promise<Set<string>> {
    const services = new Set<string>();
    for await (const name of this.#jsm.streams.names()) {
      if (name.startsWith(ASYNC_DEAD_LETTER_STREAM_PREFIX)) services.add(name.slice(ASYNC_DEAD_LETTER_STREAM_PREFIX.length));
      else if (name.startsWith(ASYNC_QUEUE_STREAM_PREFIX) && name !== CALLBACKS_STREAM)
        services.add(name.slice(ASYNC_QUEUE_STREAM_PREFIX.length));
      else if (name.startsWith(`KV_${ASYNC_RESULTS_BUCKET_PREFIX}`)) services.add(name.slice(`KV_${ASYNC_RESULTS_BUCKET_PREFIX}`.length));
    }
    return services;
  }

  async #ensureResults(bucket: string, ttlMs: number): Promise<void> {
    const stream = `KV_${bucket}`;
    const info = await this.#jsm.streams.info(stream).catch((error: unknown) => {
      if (isNotFound(error)) return undefined;
      throw error;
    });
    if (!info) {
      await this.#kvm.create(bucket, {
        history: 1,
        ttl: ttlMs,
        replicas: this.#settings.replicas,
        maxValueSize: MAX_RESULT_BYTES + HEADER_ROOM_BYTES,
      });
      return;
    }
    if (info.config.max_age !== ttlMs * NANOS_PER_MS)
      await this.#jsm.streams.update(stream, { ...info.config, max_age: ttlMs * NANOS_PER_MS });
  }

  async #ensureStream(config: Partial<StreamConfig> & { name: string }): Promise<void> {
    const info = await this.#jsm.streams.info(config.name).catch((error: unknown) => {
      if (isNotFound(error)) return undefined;
      throw error;
    });
    if (!info) {
      await this.#jsm.streams.add(config);
      return;
    }
    const current = info.config as unknown as Record<string, unknown>;
    const changed = Object.entries(config).some(([key, value]) => JSON.stringify(current[key]) !== JSON.stringify(value));
    if (changed) await this.#jsm.streams.update(config.name, { ...info.config, ...config });
  }

  async #ensureConsumer(stream: string, config: Partial<ConsumerConfig> & { durable_name: string }): Promise<void> {
    const info = await this.#jsm.consumers.info(stream, config.durable_name).catch((error: unknown) => {
      if (isNotFound(error)) return undefined;
      throw error;
    });
    if (!info) {
      await this.#jsm.consumers.add(stream, config);
      return;
    }
    if (info.config.ack_wait !== config.ack_wait)
      await this.#jsm.consumers.update(stream, config.durable_name, { ack_wait: config.ack_wait });
  }
}

/** A stream or consumer that does not exist (JetStream codes 10059, 10014). */
export function isNotFound(error: unknown): boolean {
  const code = (error as { code?: unknown }).code;
  return code === 10059 || code === 10014 || (error instanceof Error && /not found/i.test(error.message));
}

import {
  jetstream,
  jetstreamManager,
  type Consumer,
  type JetStreamClient,
  type JetStreamManager,
  type JsMsg,
  type StoredMsg,
} from "@nats-io/jetstream";
import type { NatsConnection } from "@nats-io/transport-node";
import type { RecordedEvent } from "../types.js";
import { decodeEvent } from "./cloudevents.js";
import type { ResolvedJetStreamOptions } from "./options.js";
import { withRetry } from "./retry.js";

/**
 * Lifetime of a pull request. The server sends idle heartbeats every half of it, and the client resets an
 * ordered consumer after two missed ones, so this bounds how long a subscription stays stuck after a
 * server restart (~5 s) at the price of one idle pull per subscription every 5 s.
 */
export const PULL_EXPIRES_MS = 5_000;

export interface OpenedConsumer {
  consumer: Consumer;
  /** Messages the consumer had to deliver when it was created. */
  pending: number;
}

/**
 * What the appender, the reads and the subscriptions share: the connection, the JetStream clients, the
 * resolved options, and the few stream operations each of them needs (decode, last message, consumers).
 */
export class LogAccess {
  readonly nc: NatsConnection;
  readonly js: JetStreamClient;
  readonly options: ResolvedJetStreamOptions;
  #manager: Promise<JetStreamManager> | undefined;

  constructor(nc: NatsConnection, options: ResolvedJetStreamOptions) {
    this.nc = nc;
    this.options = options;
    this.js = jetstream(nc, { timeout: options.requestTimeoutMs });
  }

  jsm(): Promise<JetStreamManager> {
    this.#manager ??= jetstreamManager(this.nc, { timeout: this.options.requestTimeoutMs, checkAPI: false });
    return this.#manager;
  }

  /** An event read by a direct get (`jsm.streams.getMessage`). */
  decodeStored(message: StoredMsg): RecordedEvent {
    return decodeEvent(
      { subject: message.subject, seq: message.seq, headers: message.header, data: message.data, storedAt: message.time },
      this.options.logSubjectPrefix,
    );
  }

  /** An event delivered by a consumer. */
  decodeDelivered(message: JsMsg): RecordedEvent {
    return decodeEvent(
      { subject: message.subject, seq: message.seq, headers: message.headers, data: message.data, storedAt: message.time },
      this.options.logSubjectPrefix,
    );
  }

  async lastMessage(subject: string): Promise<StoredMsg | null> {
    const jsm = await this.jsm();
    return await withRetry(`reading the tail of ${subject}`, this.options.retry, () =>
      jsm.streams.getMessage(this.options.streamName, { last_by_subj: subject }),
    );
  }

  async openConsumer(filter: string, startSeq: number, signal?: AbortSignal): Promise<OpenedConsumer> {
    return await withRetry(
      `opening a consumer on ${filter}`,
      this.options.retry,
      async () => {
        // An ordered consumer: ephemeral, flow-controlled, recreated by the client after a gap, so the
        // messages arrive in stream order exactly once.
        const consumer = await this.js.consumers.get(this.options.streamName, {
          filter_subjects: filter,
          opt_start_seq: Math.max(1, startSeq),
          inactive_threshold: 60_000,
        });
        const info = await consumer.info(true);
        return { consumer, pending: info.num_pending };
      },
      signal,
    );
  }

  async deleteConsumer(consumer: Consumer): Promise<void> {
    if (this.nc.isClosed()) return;
    // Best effort: an ordered consumer also disappears by itself after its inactivity threshold.
    await consumer.delete().catch(() => undefined);
  }
}

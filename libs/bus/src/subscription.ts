import { type Msg, type NatsConnection, type Subscription } from "@nats-io/transport-node";
import { startConsumerSpan, type Logger } from "@eas/telemetry";
import { headerRecord, messagingAttributes, publishFailure, TRACER } from "./messaging.js";
import { wildcardTokens } from "./subject.js";

/** What a handler learns about the message besides its typed body. */
export interface MessageContext {
  /** The concrete subject it arrived on. */
  readonly subject: string;
  /** What the subscription's `*` (and `>`) wildcards matched, in order, e.g. `[nodeId]`. */
  readonly tokens: readonly string[];
  /** NATS headers, first value of each. */
  readonly headers: Readonly<Record<string, string>>;
}

/** Handles one message; a throw or rejection is logged and the subscription goes on. */
export type MessageHandler<T> = (message: T, context: MessageContext) => void | Promise<void>;

/** Options of {@link Bus.subscribe}. */
export interface SubscribeOptions {
  /** Queue group: each message goes to one member of the group. */
  queue?: string;
  /** Messages handled at once; default 1, which keeps arrival order. */
  maxConcurrent?: number;
}

/** A live subscription made through the bus. */
export interface BusSubscription {
  /** The subject subscribed to, wildcards included. */
  readonly subject: string;
  /** Stops delivery now; handlers already running finish on their own. */
  unsubscribe(): void;
  /** Stops delivery after the messages already sent to this client, and resolves once their handlers finished. */
  drain(): Promise<void>;
  /** Resolves when the subscription has ended and its handlers have finished. */
  readonly done: Promise<void>;
}

/** One subscription on the connection: which subject, how many handlers at once, and what to run per raw message. */
export interface ConsumeRequest {
  subject: string;
  /** The subject's pattern, naming the CONSUMER span. */
  pattern: string;
  traced: boolean;
  options: SubscribeOptions;
  handle: (msg: Msg, context: MessageContext) => Promise<void>;
}

/**
 * Subscribes and runs `handle` for each message, at most `maxConcurrent` at once, each in a CONSUMER span
 * when traced. A failing handler is logged; the subscription goes on.
 */
export function consume(nc: NatsConnection, logger: Logger, request: ConsumeRequest): BusSubscription {
  const { subject, pattern, traced, options, handle } = request;
  const maxConcurrent = Math.max(1, options.maxConcurrent ?? 1);
  let sub: Subscription;
  try {
    sub = nc.subscribe(subject, options.queue ? { queue: options.queue } : {});
  } catch (error) {
    throw publishFailure(error, subject);
  }
  const runOne = async (msg: Msg): Promise<void> => {
    const context: MessageContext = {
      subject: msg.subject,
      tokens: wildcardTokens(subject, msg.subject),
      headers: headerRecord(msg.headers),
    };
    try {
      if (!traced) {
        await handle(msg, context);
        return;
      }
      await startConsumerSpan(`process ${pattern}`, context.headers, () => handle(msg, context), {
        tracerName: TRACER,
        attributes: {
          ...messagingAttributes(msg.subject, "process"),
          ...(options.queue ? { "messaging.consumer.group.name": options.queue } : {}),
        },
      });
    } catch (error) {
      logger.error({ err: error, subject: msg.subject }, "message handler failed");
    }
  };
  const loop = async (): Promise<void> => {
    const inFlight = new Set<Promise<void>>();
    for await (const msg of sub) {
      const running: Promise<void> = runOne(msg).finally(() => inFlight.delete(running));
      inFlight.add(running);
      if (inFlight.size >= maxConcurrent) await Promise.race(inFlight);
    }
    await Promise.all(inFlight);
  };
  const done = loop().catch((error: unknown) => {
    logger.error({ err: error, subject }, "subscription ended with an error");
  });
  const subscription: BusSubscription = {
    subject,
    unsubscribe: () => {
      if (!sub.isClosed()) sub.unsubscribe();
    },
    drain: async () => {
      if (!sub.isClosed() && !sub.isDraining() && !nc.isClosed() && !nc.isDraining()) {
        await sub.drain().catch((error: unknown) => {
          logger.warn({ err: error, subject }, "subscription drain failed");
        });
      }
      await done;
    },
    done,
  };
  return subscription;
}

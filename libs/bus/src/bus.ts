import type { Attributes } from "@opentelemetry/api";
import {
  jetstream,
  jetstreamManager,
  type JetStreamClient,
  type JetStreamManager,
  type JetStreamManagerOptions,
  type JetStreamOptions,
} from "@nats-io/jetstream";
import { Kvm } from "@nats-io/kv";
import { Objm } from "@nats-io/obj";
import {
  connect,
  errors as natsErrors,
  headers as natsHeaders,
  Match,
  type ConnectionOptions,
  type Msg,
  type MsgHdrs,
  type NatsConnection,
  type Status,
  type Subscription,
} from "@nats-io/transport-node";
import { createLogger, startConsumerSpan, withProducerSpan, type Logger, type TraceCarrier } from "@eas/telemetry";
import { BusUnavailableError, InvalidSubjectError } from "./errors.js";
import { fillWildcards, wildcardTokens, type Subject } from "./subject.js";

/** Options of {@link connectNats} and {@link connectBus}. */
export interface BusOptions {
  /** NATS server URL(s), e.g. `nats://127.0.0.1:4222`. */
  servers: string | string[];
  /** Connection name shown by the server (`nats server report connections`), e.g. `eas-deployer`. */
  name: string;
  /** Receives connection status changes and dropped messages; a `createLogger({ name })` by default. */
  logger?: Logger;
  /**
   * Keep retrying when no server answers at start instead of failing; off by
   * default, so a wrong URL fails fast. Once connected, the bus always reconnects, forever.
   */
  waitOnFirstConnect?: boolean;
  /** Pause between reconnect attempts to one server; default 1000 ms. */
  reconnectTimeWaitMs?: number;
  /** Anything else for the NATS client (auth, TLS, ping interval); the options above win. */
  connectionOptions?: Partial<ConnectionOptions>;
}

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

/** Options of {@link Bus.publish}. */
export interface PublishOptions {
  /** Fills the subject's leftmost `*` wildcards, like `subject.with(...)`. */
  token?: string | readonly string[];
}

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

/**
 * Typed messaging over one NATS connection, and the JetStream, KV and Object Store clients on that
 * connection. The connection itself stays inside: whoever holds a bus can neither close it behind the
 * bus's back nor bypass the subjects' types and trace context.
 */
export interface Bus {
  /** Sends `data`, encoded by the subject's codec, to `subject` (concrete after `token`), with `traceparent` headers when the subject is traced. */
  publish<T>(subject: Subject<T>, data: T, options?: PublishOptions): void;
  /**
   * Handles every message on `subject` (wildcards allowed) with the decoded, typed
   * body, inside a CONSUMER span restored from its headers. Payloads the subject's
   * codec cannot read (not JSON, failing the schema) are logged and dropped.
   */
  subscribe<T>(subject: Subject<T>, handler: MessageHandler<T>, options?: SubscribeOptions): BusSubscription;
  /**
   * JetStream on this connection: publish to and consume from streams of one's own (work queues,
   * retained samples). Messages sent this way carry no trace context unless the caller adds it.
   */
  jetstream(options?: JetStreamOptions): JetStreamClient;
  /** Creates, updates and inspects JetStream streams and consumers on this connection. */
  jetstreamManager(options?: JetStreamManagerOptions): Promise<JetStreamManager>;
  /** KV buckets on this connection: `await bus.keyValue().create("eas_checkpoints", { history: 1 })`. */
  keyValue(): Kvm;
  /** Object Store buckets on this connection: `await bus.objectStore().open("models")`. */
  objectStore(): Objm;
  /** Whether the connection is closed for good (a connection that is reconnecting is not). */
  isClosed(): boolean;
  /** Resolves once the server has processed everything published so far. */
  flush(): Promise<void>;
  /** Graceful close: drains every bus subscription (waiting for their handlers), then the connection. */
  drain(): Promise<void>;
  /** Closes at once; pending requests fail. */
  close(): Promise<void>;
  /** Resolves when the connection is closed for good, with the error that closed it if any. */
  closed(): Promise<void | Error>;
}

const TRACER = "@eas/bus";
const TRACE_HEADERS = ["traceparent", "tracestate"] as const;

/**
 * Connects to NATS and returns a typed {@link Bus} over a connection of its own
 * (see {@link connectNats}).
 */
export async function connectBus(options: BusOptions): Promise<Bus> {
  return createBus(await connectNats(options), { ...(options.logger ? { logger: options.logger } : {}), name: options.name });
}

/**
 * Opens the NATS connection a bus runs on, for a process that shares it with an adapter that speaks
 * NATS itself (the JetStream event store), then hands it to {@link createBus}. The connection
 * reconnects forever (`maxReconnectAttempts: -1`), re-creating subscriptions. Fails with
 * `BusUnavailableError` when no server answers at start, unless `waitOnFirstConnect`.
 */
export async function connectNats(options: Omit<BusOptions, "logger">): Promise<NatsConnection> {
  try {
    return await connect({
      ...options.connectionOptions,
      servers: options.servers,
      name: options.name,
      reconnect: true,
      maxReconnectAttempts: -1,
      reconnectTimeWait: options.reconnectTimeWaitMs ?? 1_000,
      waitOnFirstConnect: options.waitOnFirstConnect ?? false,
    });
  } catch (error) {
    throw new BusUnavailableError(`cannot connect to NATS at ${String(options.servers)}`, undefined, { cause: error });
  }
}

/**
 * A {@link Bus} over `nc`, which it then owns: `drain()` and `close()` end the connection. Logs
 * disconnects, reconnects and the other status changes of the connection.
 */
export function createBus(nc: NatsConnection, options: { name: string; logger?: Logger }): Bus {
  const logger = (options.logger ?? createLogger({ name: options.name })).child({ component: "bus" });
  logger.info({ server: nc.getServer() }, "connected to NATS");
  return new NatsBus(nc, logger);
}

class NatsBus implements Bus {
  private readonly subscriptions = new Set<BusSubscription>();
  private readonly statusLoop: Promise<void>;

  constructor(
    private readonly nc: NatsConnection,
    private readonly logger: Logger,
  ) {
    this.statusLoop = this.logStatus();
  }

  publish<T>(subject: Subject<T>, data: T, options: PublishOptions = {}): void {
    const target = concreteSubject(subject.subject, options.token);
    const payload = subject.codec.encode(data);
    if (!subject.traced) {
      this.send(target, payload, undefined);
      return;
    }
    withProducerSpan(`send ${subject.pattern}`, (carrier) => this.send(target, payload, headersFrom(carrier)), {
      tracerName: TRACER,
      attributes: messagingAttributes(target, "send"),
    });
  }

  subscribe<T>(subject: Subject<T>, handler: MessageHandler<T>, options: SubscribeOptions = {}): BusSubscription {
    return this.consume(subject.subject, subject.pattern, subject.traced, options, async (msg, context) => {
      let message: T;
      try {
        message = subject.codec.decode(msg.data);
      } catch (error) {
        this.logger.warn({ err: error, subject: msg.subject }, "dropped a message that does not match its subject's type");
        return;
      }
      await handler(message, context);
    });
  }

  jetstream(options?: JetStreamOptions): JetStreamClient {
    return jetstream(this.nc, options);
  }

  jetstreamManager(options?: JetStreamManagerOptions): Promise<JetStreamManager> {
    return jetstreamManager(this.nc, options);
  }

  keyValue(): Kvm {
    return new Kvm(this.nc);
  }

  objectStore(): Objm {
    return new Objm(this.nc);
  }

  isClosed(): boolean {
    return this.nc.isClosed();
  }

  async flush(): Promise<void> {
    try {
      await this.nc.flush();
    } catch (error) {
      throw new BusUnavailableError("flush failed", undefined, { cause: error });
    }
  }

  async drain(): Promise<void> {
    if (this.nc.isClosed()) return;
    await Promise.all([...this.subscriptions].map((subscription) => subscription.drain()));
    if (!this.nc.isClosed() && !this.nc.isDraining()) await this.nc.drain();
    await this.statusLoop;
  }

  async close(): Promise<void> {
    if (!this.nc.isClosed()) await this.nc.close();
    await this.statusLoop;
  }

  closed(): Promise<void | Error> {
    return this.nc.closed();
  }

  private send(subject: string, payload: Uint8Array, headers: MsgHdrs | undefined): void {
    try {
      this.nc.publish(subject, payload, headers ? { headers } : undefined);
    } catch (error) {
      throw publishFailure(error, subject);
    }
  }

  /** Subscribes and runs `handle` for each message, at most `maxConcurrent` at once, each in a CONSUMER span when traced. */
  private consume(
    subject: string,
    pattern: string,
    traced: boolean,
    options: SubscribeOptions,
    handle: (msg: Msg, context: MessageContext) => Promise<void>,
  ): BusSubscription {
    const maxConcurrent = Math.max(1, options.maxConcurrent ?? 1);
    let sub: Subscription;
    try {
      sub = this.nc.subscribe(subject, options.queue ? { queue: options.queue } : {});
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
        this.logger.error({ err: error, subject: msg.subject }, "message handler failed");
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
      this.logger.error({ err: error, subject }, "subscription ended with an error");
    });
    const subscription: BusSubscription = {
      subject,
      unsubscribe: () => {
        if (!sub.isClosed()) sub.unsubscribe();
      },
      drain: async () => {
        if (!sub.isClosed() && !sub.isDraining() && !this.nc.isClosed() && !this.nc.isDraining()) {
          await sub.drain().catch((error: unknown) => {
            this.logger.warn({ err: error, subject }, "subscription drain failed");
          });
        }
        await done;
      },
      done,
    };
    this.subscriptions.add(subscription);
    void done.finally(() => this.subscriptions.delete(subscription));
    return subscription;
  }

  private async logStatus(): Promise<void> {
    try {
      for await (const status of this.nc.status()) logStatusChange(this.logger, status);
    } catch (error) {
      this.logger.error({ err: error }, "NATS status stream failed");
    }
  }
}

function logStatusChange(logger: Logger, status: Status): void {
  switch (status.type) {
    case "disconnect":
      logger.warn({ server: status.server }, "disconnected from NATS");
      return;
    case "reconnect":
      logger.info({ server: status.server }, "reconnected to NATS");
      return;
    case "reconnecting":
      logger.debug("reconnecting to NATS");
      return;
    case "error":
      logger.error({ err: status.error }, "NATS connection error");
      return;
    case "ldm":
      logger.warn({ server: status.server }, "NATS server entering lame duck mode");
      return;
    case "staleConnection":
      logger.warn("NATS connection stale");
      return;
    case "slowConsumer":
      logger.warn({ subject: status.sub.getSubject(), pending: status.pending }, "slow NATS consumer");
      return;
    case "update":
      logger.debug({ added: status.added, deleted: status.deleted }, "NATS cluster update");
      return;
    case "forceReconnect":
      logger.info("forced NATS reconnect");
      return;
    case "close":
      logger.info("NATS connection closed");
      return;
    case "ping":
      return;
  }
}

function concreteSubject(subject: string, token: string | readonly string[] | undefined): string {
  const filled = token === undefined ? subject : fillWildcards(subject, typeof token === "string" ? [token] : token);
  if (filled.split(".").some((part) => part === "*" || part === ">")) {
    throw new InvalidSubjectError(filled, "wildcards left; fill them with subject.with(...) or the token option");
  }
  return filled;
}

function headersFrom(carrier: TraceCarrier | undefined): MsgHdrs | undefined {
  if (!carrier?.traceparent) return undefined;
  const result = natsHeaders();
  for (const name of TRACE_HEADERS) {
    const value = carrier[name];
    if (value) result.set(name, value);
  }
  return result;
}

function headerRecord(headers: MsgHdrs | undefined): Record<string, string> {
  const record: Record<string, string> = {};
  if (!headers) return record;
  for (const name of headers.keys()) record[name] = headers.get(name, Match.IgnoreCase);
  return record;
}

function messagingAttributes(subject: string, operation: "send" | "process"): Attributes {
  return {
    "messaging.system": "nats",
    "messaging.destination.name": subject,
    "messaging.operation.type": operation,
  };
}

function publishFailure(error: unknown, subject: string): Error {
  if (
    error instanceof natsErrors.ClosedConnectionError ||
    error instanceof natsErrors.DrainingConnectionError ||
    error instanceof natsErrors.RequestError ||
    error instanceof natsErrors.ConnectionError
  ) {
    return new BusUnavailableError(`NATS connection unavailable: ${error.message}`, subject, { cause: error });
  }
  if (error instanceof natsErrors.InvalidSubjectError) return new InvalidSubjectError(subject, error.message);
  return error instanceof Error ? error : new Error(String(error));
}

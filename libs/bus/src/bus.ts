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
import { connect, type ConnectionOptions, type MsgHdrs, type NatsConnection } from "@nats-io/transport-node";
import { createLogger, withProducerSpan, type Logger } from "@eas/telemetry";
import { logStatusChange } from "./connection-status.js";
import { BusUnavailableError, InvalidSubjectError } from "./errors.js";
import { headersFrom, messagingAttributes, publishFailure, TRACER } from "./messaging.js";
import { fillWildcards, type Subject } from "./subject.js";
import { consume, type BusSubscription, type ConsumeRequest, type MessageHandler, type SubscribeOptions } from "./subscription.js";

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

/** Options of {@link Bus.publish}. */
export interface PublishOptions {
  /** Fills the subject's leftmost `*` wildcards, like `subject.with(...)`. */
  token?: string | readonly string[];
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
    const { subject: concrete, pattern, traced } = subject;
    return this.consume({
      subject: concrete,
      pattern,
      traced,
      options,
      handle: async (msg, context) => {
        let message: T;
        try {
          message = subject.codec.decode(msg.data);
        } catch (error) {
          this.logger.warn({ err: error, subject: msg.subject }, "dropped a message that does not match its subject's type");
          return;
        }
        await handler(message, context);
      },
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

  /** Runs the subscription loop of `subscription.ts`, and keeps the subscription until it ends so that `drain()` can wait for it. */
  private consume(request: ConsumeRequest): BusSubscription {
    const subscription = consume(this.nc, this.logger, request);
    this.subscriptions.add(subscription);
    void subscription.done.finally(() => this.subscriptions.delete(subscription));
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

function concreteSubject(subject: string, token: string | readonly string[] | undefined): string {
  const filled = token === undefined ? subject : fillWildcards(subject, typeof token === "string" ? [token] : token);
  if (filled.split(".").some((part) => part === "*" || part === ">")) {
    throw new InvalidSubjectError(filled, "wildcards left; fill them with subject.with(...) or the token option");
  }
  return filled;
}

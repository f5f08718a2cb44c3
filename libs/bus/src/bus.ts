import { SpanKind, type Attributes } from "@opentelemetry/api";
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
import { decodeReplyEnvelope, decodeTyped, encodeJson, type ReplyEnvelope } from "./codec.js";
import {
  BusErrorCodes,
  BusNoRespondersError,
  BusRequestError,
  BusTimeoutError,
  BusUnavailableError,
  InvalidSubjectError,
  ReplyError,
} from "./errors.js";
import { fillWildcards, wildcardTokens, type RequestSubject, type Subject } from "./subject.js";

/** Options of {@link connectBus}. */
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
  /** Default timeout of {@link Bus.request}; default 5000 ms. */
  requestTimeoutMs?: number;
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

/** Answers one request; throw a `ReplyError` to answer with a coded error. */
export type ReplyHandler<Req, Res> = (request: Req, context: MessageContext) => Res | Promise<Res>;

/** Options of {@link Bus.publish}. */
export interface PublishOptions {
  /** Fills the subject's leftmost `*` wildcards, like `subject.with(...)`. */
  token?: string | readonly string[];
}

/** Options of {@link Bus.subscribe} and {@link Bus.reply}. */
export interface SubscribeOptions {
  /** Queue group: each message goes to one member of the group. */
  queue?: string;
  /** Messages handled at once; default 1, which keeps arrival order. */
  maxConcurrent?: number;
}

/** Options of {@link Bus.request}. */
export interface RequestOptions {
  /** Default: the bus's `requestTimeoutMs`. */
  timeoutMs?: number;
  /** Fills the subject's leftmost `*` wildcards, like `subject.with(...)`. */
  token?: string | readonly string[];
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

/** Typed messaging over one NATS connection. */
export interface Bus {
  /** The underlying connection, for JetStream, KV and object store adapters. */
  readonly nc: NatsConnection;
  /** Sends `data` as JSON to `subject` (concrete after `token`), with `traceparent` headers when the subject is traced. */
  publish<T>(subject: Subject<T>, data: T, options?: PublishOptions): void;
  /**
   * Handles every message on `subject` (wildcards allowed) with the parsed, typed
   * body, inside a CONSUMER span restored from its headers. Payloads that do not
   * parse or fail the schema are logged and dropped.
   */
  subscribe<T>(subject: Subject<T>, handler: MessageHandler<T>, options?: SubscribeOptions): BusSubscription;
  /**
   * Sends a request and resolves with the typed result. Rejects with
   * `BusRequestError` (error reply, or a reply that fails the response schema),
   * `BusTimeoutError`, `BusNoRespondersError` or `BusUnavailableError`.
   */
  request<Req, Res>(subject: RequestSubject<Req, Res>, data: Req, options?: RequestOptions): Promise<Res>;
  /**
   * Answers requests on `subject` (wildcards allowed). A request that fails the
   * request schema is answered with `INVALID_REQUEST`; a thrown `ReplyError` with
   * its code; any other throw with `INTERNAL`.
   */
  reply<Req, Res>(subject: RequestSubject<Req, Res>, handler: ReplyHandler<Req, Res>, options?: SubscribeOptions): BusSubscription;
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
 * Connects to NATS and returns a typed {@link Bus}. The connection reconnects
 * forever (`maxReconnectAttempts: -1`), re-creating subscriptions, and logs
 * disconnects and reconnects. Fails with `BusUnavailableError` when no server
 * answers at start, unless `waitOnFirstConnect`.
 */
export async function connectBus(options: BusOptions): Promise<Bus> {
  const logger = (options.logger ?? createLogger({ name: options.name })).child({ component: "bus" });
  let nc: NatsConnection;
  try {
    nc = await connect({
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
  logger.info({ server: nc.getServer() }, "connected to NATS");
  return new NatsBus(nc, logger, options.requestTimeoutMs ?? 5_000);
}

class NatsBus implements Bus {
  private readonly subscriptions = new Set<BusSubscription>();
  private readonly statusLoop: Promise<void>;

  constructor(
    readonly nc: NatsConnection,
    private readonly logger: Logger,
    private readonly requestTimeoutMs: number,
  ) {
    this.statusLoop = this.logStatus();
  }

  publish<T>(subject: Subject<T>, data: T, options: PublishOptions = {}): void {
    const target = concreteSubject(subject.subject, options.token);
    const payload = encodeJson(data);
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
        message = decodeTyped(msg.data, subject.schema);
      } catch (error) {
        this.logger.warn({ err: error, subject: msg.subject }, "dropped a message that does not match its subject's type");
        return;
      }
      await handler(message, context);
    });
  }

  async request<Req, Res>(subject: RequestSubject<Req, Res>, data: Req, options: RequestOptions = {}): Promise<Res> {
    const target = concreteSubject(subject.subject, options.token);
    const timeoutMs = options.timeoutMs ?? this.requestTimeoutMs;
    const payload = encodeJson(data);
    const exchange = async (carrier: TraceCarrier | undefined): Promise<Res> => {
      let reply: Msg;
      try {
        reply = await this.nc.request(target, payload, { timeout: timeoutMs, headers: headersFrom(carrier) });
      } catch (error) {
        throw requestFailure(error, target, timeoutMs);
      }
      let envelope: ReplyEnvelope<unknown>;
      try {
        envelope = decodeReplyEnvelope(reply.data);
      } catch (error) {
        throw new BusRequestError(target, BusErrorCodes.InvalidResponse, describe(error), { cause: error });
      }
      if ("error" in envelope) throw new BusRequestError(target, envelope.error.code, envelope.error.message);
      try {
        return subject.responseSchema ? subject.responseSchema.parse(envelope.result) : (envelope.result as Res);
      } catch (error) {
        throw new BusRequestError(target, BusErrorCodes.InvalidResponse, describe(error), { cause: error });
      }
    };
    if (!subject.traced) return await exchange(undefined);
    return await withProducerSpan(`send ${subject.pattern}`, (carrier) => exchange(carrier), {
      tracerName: TRACER,
      kind: SpanKind.CLIENT,
      attributes: messagingAttributes(target, "send"),
    });
  }

  reply<Req, Res>(subject: RequestSubject<Req, Res>, handler: ReplyHandler<Req, Res>, options: SubscribeOptions = {}): BusSubscription {
    return this.consume(subject.subject, subject.pattern, subject.traced, options, async (msg, context) => {
      const answer = (envelope: ReplyEnvelope<Res>) => {
        if (!msg.reply) {
          this.logger.warn({ subject: msg.subject }, "request arrived without a reply subject; answer dropped");
          return;
        }
        msg.respond(encodeJson(envelope));
      };
      let request: Req;
      try {
        request = decodeTyped(msg.data, subject.requestSchema);
      } catch (error) {
        this.logger.warn({ err: error, subject: msg.subject }, "rejected a request that does not match its subject's type");
        answer({ error: { code: BusErrorCodes.InvalidRequest, message: describe(error) } });
        return;
      }
      try {
        answer({ result: await handler(request, context) });
      } catch (error) {
        if (error instanceof ReplyError) {
          answer({ error: { code: error.code, message: error.message } });
          return;
        }
        answer({ error: { code: BusErrorCodes.Internal, message: describe(error) } });
        // Rethrown so the consumer span records it and consume() logs it.
        throw error;
      }
    });
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

function requestFailure(error: unknown, subject: string, timeoutMs: number): Error {
  if (error instanceof natsErrors.TimeoutError) return new BusTimeoutError(subject, timeoutMs, { cause: error });
  if (error instanceof natsErrors.NoRespondersError) return new BusNoRespondersError(subject, { cause: error });
  if (error instanceof natsErrors.RequestError && error.isNoResponders()) {
    return new BusNoRespondersError(subject, { cause: error });
  }
  return publishFailure(error, subject);
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

function describe(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

import { randomUUID } from "node:crypto";
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { Socket } from "node:net";
import { Transform, type Readable, type TransformCallback } from "node:stream";
import { context } from "@opentelemetry/api";
import { Pool, type Dispatcher } from "undici";
import { tokenDigest, presentedToken, tokenMatches } from "./auth.js";
import { pickLeastOutstanding, type BalancedInstance } from "./balancer.js";
import { BoundedQueue, type QueueNode } from "./bounded-queue.js";
import { errorBody, GatewayErrorCode, gatewayErrorStatus, reasonPhrase } from "./errors.js";
import { responseHeaders, scanRequestHeaders, splitPredictUrl, type ResponseFraming } from "./headers.js";
import type { RouteEntry, RouteTable } from "./route-table.js";
import { TokenBucket } from "./token-bucket.js";
import { tunnelUpgrade, rejectUpgrade } from "./upgrade.js";

/** The logger the gateway takes; pino's `Logger` fits. */
export interface GatewayLogger {
  debug(fields: object, message?: string): void;
  info(fields: object, message?: string): void;
  warn(fields: object, message?: string): void;
  error(fields: object, message?: string): void;
}

/** Hook for request metrics (the lead attaches prom-client). Called once per answered request of a known service. */
export interface GatewayMetricsSink {
  observe(service: string, statusCode: number, latencyMs: number): void;
}

/** Options of {@link createGatewayServer}. */
export interface GatewayServerOptions {
  routes: RouteTable;
  logger?: GatewayLogger;
  /** Largest request body accepted, in bytes; default 10 MiB. Larger ones get 413. */
  maxBodyBytes?: number;
  /** Clock in ms (monotonic is best), for latency, rate limits and ejection; default `performance.now`. */
  now?: () => number;
  metrics?: GatewayMetricsSink;
  /** How long an instance whose connection failed is skipped, in ms; default 2000. */
  ejectMs?: number;
  /** `Retry-After` seconds sent with 503 when a service has no Ready instance; default 1. */
  unavailableRetryAfterSeconds?: number;
  /** Longest wait in {@link GatewayServer.close} for in-flight requests before cutting them; default 30 s. */
  drainTimeoutMs?: number;
}

/** Per-service routing state as seen by one gateway, for tests and diagnostics. */
export interface ServiceRoutingSnapshot {
  queued: number;
  instances: { id: string; endpoint: string; outstanding: number; ejected: boolean }[];
  /** Instances removed from the table that still have requests in flight. */
  draining: { id: string; endpoint: string; outstanding: number }[];
}

/** The gateway's HTTP data plane. */
export interface GatewayServer {
  /** Starts listening; resolves with the bound port (useful with port 0). */
  listen(port: number, host?: string): Promise<{ port: number }>;
  /** Stops accepting connections, lets in-flight requests finish (bounded by `drainTimeoutMs`), then closes upstream pools and tunnels. */
  close(): Promise<void>;
  /** Routing state of `service`, or undefined when the gateway holds none. */
  snapshot(service: string): ServiceRoutingSnapshot | undefined;
  readonly server: Server;
}

const DEFAULT_MAX_BODY_BYTES = 10 * 1024 * 1024;
const NO_LOGGER: GatewayLogger = { debug() {}, info() {}, warn() {}, error() {} };
const JSON_CONTENT_TYPE = "application/json";

/** One Ready instance as the balancer and the dispatcher see it. */
class InstanceState implements BalancedInstance {
  outstanding = 0;
  ejectedUntil = 0;
  removed = false;
  constructor(
    readonly id: string,
    readonly endpoint: string,
    readonly pool: Pool,
  ) {}
}

/** Everything precomputed per service so the hot path only reads fields. */
class ServiceState {
  entry: RouteEntry;
  tokenDigest: Buffer;
  bucket: TokenBucket | null;
  instances: InstanceState[] = [];
  /** Removed instances with requests still in flight. */
  readonly draining = new Set<InstanceState>();
  readonly queue: BoundedQueue<Exchange>;
  rotation = 0;
  routable: boolean;
  removed = false;
  constructor(entry: RouteEntry, now: number) {
    this.entry = entry;
    this.tokenDigest = tokenDigest(entry.token);
    this.bucket = entry.rateLimit > 0 ? new TokenBucket(entry.rateLimit, now) : null;
    this.queue = new BoundedQueue(entry.maxQueueSize);
    this.routable = false;
  }
}

/** Thrown into a streamed (chunked) request body once it passes `maxBodyBytes`. */
export class RequestBodyTooLargeError extends Error {
  override readonly name = "RequestBodyTooLargeError";
  constructor(readonly limitBytes: number) {
    super(`request body exceeds ${limitBytes} bytes`);
  }
}

/** Counts a streamed request body and fails it past the limit; only used for bodies without Content-Length. */
class ByteLimit extends Transform {
  #seen = 0;
  constructor(readonly limitBytes: number) {
    super();
  }
  override _transform(chunk: Buffer, _encoding: BufferEncoding, callback: TransformCallback): void {
    this.#seen += chunk.length;
    if (this.#seen > this.limitBytes) callback(new RequestBodyTooLargeError(this.limitBytes));
    else callback(null, chunk);
  }
}

/** Why the gateway gave up on an upstream request it had started. */
class ExchangeCancelled extends Error {
  override readonly name = "ExchangeCancelled";
  constructor(readonly reason: "timeout" | "client-gone" | "body-too-large" | "shutdown") {
    super(`request cancelled: ${reason}`);
  }
}

type Gateway = GatewayCore;

/**
 * One client request on its way through the gateway; also the undici
 * dispatch handler for it (the legacy callback API, which undici's core calls
 * directly, with raw header buffers; the newer controller API is wrapped on
 * every call). One object per request is the only per-request allocation the
 * proxy adds besides the header lists.
 */
class Exchange implements Dispatcher.DispatchHandler, ResponseFraming {
  readonly options: Dispatcher.DispatchOptions;
  instance: InstanceState | null = null;
  node: QueueNode<Exchange> | null = null;
  timer: NodeJS.Timeout | null = null;
  abortUpstream: ((err?: Error) => void) | null = null;
  resumeUpstream: (() => void) | null = null;
  /** A dispatch is running: the instance slot is held until onComplete/onError. */
  upstreamActive = false;
  /** onConnect ran for the current dispatch: bytes may have left for the instance. */
  connected = false;
  attempts = 0;
  /** A response (from upstream or an error of ours) is committed, or the client is gone. */
  answered = false;
  cancelled: ExchangeCancelled | null = null;
  status = 0;
  drainListening = false;
  done = false;
  /** Content-Length of the upstream response, -1 when it streams without one. */
  contentLength = -1;
  /** A body that arrived whole in one chunk, held to go out with `end()`: one write call instead of two. */
  held: Buffer | null = null;
  /** The request's trace context (its server span), restored when it is dispatched, queued or not (upstream-tracing.ts). */
  readonly traceContext = context.active();

  constructor(
    readonly gateway: Gateway,
    readonly svc: ServiceState,
    readonly req: IncomingMessage,
    readonly res: ServerResponse,
    readonly requestId: string,
    readonly start: number,
    path: string,
    headers: string[],
    body: Readable | null,
  ) {
    const timeout = svc.entry.keepaliveMs > 0 ? svc.entry.keepaliveMs : 0;
    this.options = {
      path,
      method: (req.method ?? "GET") as Dispatcher.HttpMethod,
      headers,
      body,
      // The wait for headers is bounded by the exchange's own timer (it also covers time queued); undici bounds silences in the body.
      headersTimeout: 0,
      bodyTimeout: timeout,
    };
  }

  onConnect(abort: (err?: Error) => void): void {
    if (this.cancelled) {
      abort(this.cancelled);
      return;
    }
    this.abortUpstream = abort;
    this.connected = true;
  }

  onHeaders(statusCode: number, rawHeaders: Buffer[], resume: () => void, statusText: string): boolean {
    if (statusCode < 200) return true;
    if (this.answered) {
      this.cancel(this.cancelled ?? new ExchangeCancelled("client-gone"));
      return false;
    }
    this.answered = true;
    this.status = statusCode;
    this.clearTimer();
    this.resumeUpstream = resume;
    const instance = this.instance as InstanceState;
    const res = this.res;
    if (this.gateway.closing) res.shouldKeepAlive = false;
    // Headers go out with the first body chunk (one write for small responses); a streamed body's chunks are written as they arrive.
    res.writeHead(
      statusCode,
      statusText || undefined,
      responseHeaders(rawHeaders, ["x-eas-instance", instance.id, "x-request-id", this.requestId], this),
    );
    return true;
  }

  onData(chunk: Buffer): boolean {
    const res = this.res;
    if (res.destroyed) return true;
    if (this.held === null && chunk.length === this.contentLength) {
      this.held = chunk;
      return true;
    }
    if (this.held !== null) {
      res.write(this.held);
      this.held = null;
    }
    if (res.write(chunk)) return true;
    if (!this.drainListening) {
      this.drainListening = true;
      res.on("drain", onResponseDrain);
    }
    return false;
  }

  onComplete(): void {
    this.release();
    const held = this.held;
    this.held = null;
    if (!this.res.destroyed) {
      if (held !== null) this.res.end(held);
      else this.res.end();
    }
    this.finish();
  }

  onError(err: Error): void {
    this.release();
    const gateway = this.gateway;
    if (this.cancelled || (this.answered && !this.res.headersSent)) {
      // We answered already (timeout, 413, shutdown) or the client left; nothing more to say.
      return;
    }
    if (this.res.headersSent) {
      gateway.logger.warn(
        { service: this.svc.entry.service, instance: this.instance?.id, err: err.message },
        "upstream failed mid-response",
      );
      this.res.destroy(err);
      this.finish();
      return;
    }
    if (err instanceof RequestBodyTooLargeError) {
      this.fail(GatewayErrorCode.PayloadTooLarge, err.message, true);
      return;
    }
    const code = errorCode(err);
    if (code === "UND_ERR_INVALID_ARG" || code === "UND_ERR_NOT_SUPPORTED") {
      // The request itself cannot be sent (a header or path undici refuses): the instance is not at fault.
      this.fail(GatewayErrorCode.BadRequest, `request cannot be forwarded: ${err.message}`);
      return;
    }
    if (this.attempts === 1 && (!this.connected || this.replayableAfterReset(err))) {
      // Either nothing reached the instance (refused, reset while connecting, pool closed because the
      // instance just left the table): safe to replay once elsewhere, even for POST; or a bodiless
      // idempotent request lost its connection before any response byte (RFC 9110 9.2.2), typically
      // a keep-alive connection the instance closed as it shut down.
      gateway.eject(this.instance as InstanceState);
      gateway.logger.debug({ service: this.svc.entry.service, instance: this.instance?.id, err: code }, "retrying on another instance");
      gateway.retry(this, this.instance as InstanceState);
      return;
    }
    if (code === "UND_ERR_BODY_TIMEOUT" || code === "UND_ERR_HEADERS_TIMEOUT") {
      this.fail(GatewayErrorCode.UpstreamTimeout, `instance ${this.instance?.id} timed out`);
    } else {
      this.fail(GatewayErrorCode.BadGateway, `instance ${this.instance?.id} failed: ${code}`);
    }
  }

  replayableAfterReset(err: Error): boolean {
    const method = this.options.method;
    if (
      this.options.body !== null ||
      !(method === "GET" || method === "HEAD" || method === "OPTIONS" || method === "DELETE" || method === "PUT")
    )
      return false;
    const code = errorCode(err);
    return code === "ECONNRESET" || code === "EPIPE" || code === "UND_ERR_SOCKET";
  }

  /** Answers with a gateway error unless a response is already committed. */
  fail(code: GatewayErrorCode, message: string, closeConnection = false, extraHeaders?: readonly string[]): void {
    if (this.answered) return;
    this.answered = true;
    this.clearTimer();
    this.status = gatewayErrorStatus[code];
    sendError(this.res, code, message, closeConnection || this.gateway.closing, extraHeaders);
    this.finish();
  }

  /** Gives up on the upstream part: aborts a running dispatch now or as soon as it connects. */
  cancel(reason: ExchangeCancelled): void {
    if (!this.cancelled) this.cancelled = reason;
    if (this.upstreamActive && this.abortUpstream) this.abortUpstream(reason);
  }

  onTimeout(): void {
    this.timer = null;
    if (this.answered) return;
    if (this.node) {
      this.svc.queue.remove(this.node);
      this.node = null;
    }
    this.fail(GatewayErrorCode.UpstreamTimeout, `no response within ${this.svc.entry.keepaliveMs} ms`);
    this.cancel(new ExchangeCancelled("timeout"));
  }

  onClientGone(): void {
    if (this.res.writableFinished) return;
    if (this.node) {
      this.svc.queue.remove(this.node);
      this.node = null;
    }
    if (!this.answered) this.status = 499;
    this.answered = true;
    this.clearTimer();
    this.cancel(new ExchangeCancelled("client-gone"));
    this.finish();
  }

  onBodyError(err: Error): void {
    if (err instanceof RequestBodyTooLargeError) {
      if (this.node) {
        this.svc.queue.remove(this.node);
        this.node = null;
      }
      this.fail(GatewayErrorCode.PayloadTooLarge, err.message, true);
      this.cancel(new ExchangeCancelled("body-too-large"));
    }
  }

  release(): void {
    if (!this.upstreamActive) return;
    this.upstreamActive = false;
    this.abortUpstream = null;
    this.gateway.release(this.svc, this.instance as InstanceState);
  }

  clearTimer(): void {
    if (this.timer) {
      clearTimeout(this.timer);
      this.timer = null;
    }
  }

  /** Accounts for the end of the exchange, once. */
  finish(): void {
    if (this.done) return;
    this.done = true;
    this.gateway.finished(this);
  }
}

function onExchangeTimeout(exchange: Exchange): void {
  exchange.onTimeout();
}

const kExchange = Symbol("eas.exchange");
const kAuthMemo = Symbol("eas.authMemo");
type AuthCachingSocket = Socket & { [kAuthMemo]?: { digest: Buffer; header: string } };
type TaggedResponse = ServerResponse & { [kExchange]?: Exchange };

function onResponseClose(this: TaggedResponse): void {
  const exchange = this[kExchange];
  if (exchange) {
    this[kExchange] = undefined;
    exchange.onClientGone();
  }
}

function onResponseDrain(this: TaggedResponse): void {
  const exchange = this[kExchange];
  exchange?.resumeUpstream?.();
}

function errorCode(err: Error): string {
  const code = (err as NodeJS.ErrnoException).code;
  return typeof code === "string" ? code : err.name;
}

function sendError(
  res: ServerResponse,
  code: GatewayErrorCode,
  message: string,
  closeConnection: boolean,
  extraHeaders?: readonly string[],
): void {
  if (res.headersSent || res.destroyed) return;
  const status = gatewayErrorStatus[code];
  const body = errorBody(code, message);
  const headers = ["content-type", JSON_CONTENT_TYPE, "content-length", String(body.length)];
  if (extraHeaders) for (const item of extraHeaders) headers.push(item);
  if (closeConnection) res.shouldKeepAlive = false;
  const reason = reasonPhrase(status);
  if (reason) res.writeHead(status, reason, headers);
  else res.writeHead(status, headers);
  res.end(body);
}

/** The gateway's mutable core, shared by the request handler, the exchanges and the route listener. */
class GatewayCore {
  readonly routes: RouteTable;
  readonly logger: GatewayLogger;
  readonly maxBodyBytes: number;
  readonly now: () => number;
  readonly metrics: GatewayMetricsSink | undefined;
  readonly ejectMs: number;
  readonly retryAfter: string;
  readonly drainTimeoutMs: number;
  readonly services = new Map<string, ServiceState>();
  readonly tunnels = new Set<Socket>();
  closing = false;
  active = 0;
  #drained: (() => void) | null = null;
  readonly unsubscribe: () => void;

  constructor(options: GatewayServerOptions) {
    this.routes = options.routes;
    this.logger = options.logger ?? NO_LOGGER;
    this.maxBodyBytes = options.maxBodyBytes ?? DEFAULT_MAX_BODY_BYTES;
    this.now = options.now ?? (() => performance.now());
    this.metrics = options.metrics;
    this.ejectMs = options.ejectMs ?? 2000;
    this.retryAfter = String(options.unavailableRetryAfterSeconds ?? 1);
    this.drainTimeoutMs = options.drainTimeoutMs ?? 30_000;
    this.unsubscribe = this.routes.onChange((service) => this.applyRoute(service));
  }

  /** The state of `name`, built on first use from the route table (negative answers are not cached: unbounded names). */
  service(name: string): ServiceState | undefined {
    const known = this.services.get(name);
    if (known) return known;
    const entry = this.routes.get(name);
    if (!entry) return undefined;
    return this.applyRoute(name);
  }

  /** Re-reads the route of `name` and updates its state in place; queued requests are re-evaluated. */
  applyRoute(name: string): ServiceState | undefined {
    const entry = this.routes.get(name);
    const svc = this.services.get(name);
    if (!entry) {
      if (svc) {
        this.services.delete(name);
        svc.removed = true;
        svc.routable = false;
        for (const instance of svc.instances) this.retire(instance);
        svc.instances = [];
        for (const waiting of svc.queue.drain()) {
          waiting.node = null;
          waiting.fail(GatewayErrorCode.ServiceNotFound, `service ${name} was deleted`);
        }
      }
      return undefined;
    }
    const state = svc ?? new ServiceState(entry, this.now());
    if (svc) {
      if (svc.entry.token !== entry.token) svc.tokenDigest = tokenDigest(entry.token);
      if (svc.entry.rateLimit !== entry.rateLimit) svc.bucket = entry.rateLimit > 0 ? new TokenBucket(entry.rateLimit, this.now()) : null;
      svc.queue.capacity = entry.maxQueueSize;
      svc.entry = entry;
    } else {
      this.services.set(name, state);
    }
    this.syncInstances(state, entry);
    state.routable = entry.state !== "stopped" && state.instances.length > 0;
    this.pump(state);
    return state;
  }

  syncInstances(svc: ServiceState, entry: RouteEntry): void {
    const previous = new Map<string, InstanceState>();
    for (const instance of svc.instances) previous.set(instance.id, instance);
    const next: InstanceState[] = [];
    for (const route of entry.instances) {
      const kept = previous.get(route.id);
      if (kept && kept.endpoint === route.endpoint) {
        previous.delete(route.id);
        next.push(kept);
        continue;
      }
      next.push(
        new InstanceState(
          route.id,
          route.endpoint,
          new Pool(`http://${route.endpoint}`, {
            // The gateway bounds concurrency per instance itself, so the pool may open as many connections as it is given requests.
            connections: null,
            pipelining: 1,
            keepAliveTimeout: 4_000,
            headersTimeout: 0,
            bodyTimeout: 0,
          }),
        ),
      );
    }
    // Removed instances: in-flight requests finish (pool.close waits for them), nothing new is sent.
    for (const gone of previous.values()) {
      this.retire(gone);
      if (gone.outstanding > 0) svc.draining.add(gone);
    }
    svc.instances = next;
  }

  retire(instance: InstanceState): void {
    instance.removed = true;
    instance.pool.close().catch((err: unknown) => {
      this.logger.debug({ instance: instance.id, err: String(err) }, "closing instance pool failed");
    });
  }

  /** Dispatches queued requests while instances have free slots; fails them when the service cannot be routed any more. */
  pump(svc: ServiceState): void {
    const queue = svc.queue;
    if (queue.size === 0) return;
    if (!svc.routable) {
      for (const waiting of queue.drain()) {
        waiting.node = null;
        waiting.fail(GatewayErrorCode.ServiceUnavailable, `service ${svc.entry.service} has no ready instance`, false, [
          "retry-after",
          this.retryAfter,
        ]);
      }
      return;
    }
    const now = this.now();
    while (queue.size > 0) {
      const instance = pickLeastOutstanding(svc.instances, svc.entry.maxConcurrency, now, svc.rotation++);
      if (!instance) return;
      const waiting = queue.shift() as Exchange;
      waiting.node = null;
      this.dispatch(waiting, instance);
    }
  }

  dispatch(exchange: Exchange, instance: InstanceState): void {
    instance.outstanding++;
    exchange.instance = instance;
    exchange.attempts++;
    exchange.connected = false;
    exchange.abortUpstream = null;
    exchange.upstreamActive = true;
    // Errors thrown inside dispatch (closed pool, invalid header) come back through exchange.onError.
    context.with(exchange.traceContext, () => instance.pool.dispatch(exchange.options, exchange));
  }

  release(svc: ServiceState, instance: InstanceState): void {
    instance.outstanding--;
    if (instance.removed) {
      if (instance.outstanding === 0) svc.draining.delete(instance);
    } else if (svc.queue.size > 0) {
      this.pump(svc);
    }
  }

  eject(instance: InstanceState): void {
    instance.ejectedUntil = this.now() + this.ejectMs;
  }

  /** Second (and last) attempt for a request whose first one never reached its instance. */
  retry(exchange: Exchange, failed: InstanceState): void {
    const svc = exchange.svc;
    if (exchange.answered) return;
    if (!svc.routable || svc.removed) {
      exchange.fail(GatewayErrorCode.ServiceUnavailable, `service ${svc.entry.service} has no ready instance`, false, [
        "retry-after",
        this.retryAfter,
      ]);
      return;
    }
    const instance = pickLeastOutstanding(svc.instances, svc.entry.maxConcurrency, this.now(), svc.rotation++, failed);
    if (instance) {
      this.dispatch(exchange, instance);
      return;
    }
    const others = svc.instances.some((candidate) => candidate !== failed);
    if (!others) {
      exchange.fail(GatewayErrorCode.BadGateway, `instance ${failed.id} is unreachable and no other instance is ready`);
      return;
    }
    // Every other instance is busy: wait first in line, ahead of requests that have not been tried yet.
    exchange.node = svc.queue.unshift(exchange);
  }

  finished(exchange: Exchange): void {
    const res = exchange.res as TaggedResponse;
    res[kExchange] = undefined;
    if (this.metrics) this.metrics.observe(exchange.svc.entry.service, exchange.status, this.now() - exchange.start);
    this.active--;
    if (this.active === 0 && this.#drained) this.#drained();
  }

  /** The request handler: admission checks, then dispatch or queue. */
  handle(req: IncomingMessage, res: ServerResponse): void {
    const start = this.now();
    const url = req.url ?? "/";
    const target = splitPredictUrl(url);
    if (!target) {
      sendError(
        res,
        GatewayErrorCode.NotFound,
        `no route for ${req.method} ${url.split("?")[0]}; inference lives under /api/predict/{service}`,
        this.closing,
      );
      return;
    }
    const svc = this.service(target.service);
    if (!svc) {
      sendError(res, GatewayErrorCode.ServiceNotFound, `service ${target.service} not found`, this.closing);
      return;
    }
    const scanned = scanRequestHeaders(req.rawHeaders);
    if (!this.authorized(req.socket as AuthCachingSocket, scanned.authorization, svc)) {
      this.reject(svc, res, start, GatewayErrorCode.Unauthorized, "missing or invalid token in the Authorization header");
      return;
    }
    if (scanned.contentLength > this.maxBodyBytes) {
      this.reject(
        svc,
        res,
        start,
        GatewayErrorCode.PayloadTooLarge,
        `request body of ${scanned.contentLength} bytes exceeds ${this.maxBodyBytes}`,
        true,
      );
      return;
    }
    if (!svc.routable) {
      this.reject(
        svc,
        res,
        start,
        GatewayErrorCode.ServiceUnavailable,
        `service ${target.service} has no ready instance (${svc.entry.state})`,
        false,
        ["retry-after", this.retryAfter],
      );
      return;
    }
    const bucket = svc.bucket;
    if (bucket && !bucket.tryTake(start)) {
      this.reject(
        svc,
        res,
        start,
        GatewayErrorCode.RateLimited,
        `service ${target.service} is limited to ${svc.entry.rateLimit} requests/s`,
        false,
        ["retry-after", String(bucket.retryAfterSeconds())],
      );
      return;
    }

    const instance = pickLeastOutstanding(svc.instances, svc.entry.maxConcurrency, start, svc.rotation++);
    if (!instance && svc.queue.isFull) {
      this.reject(
        svc,
        res,
        start,
        GatewayErrorCode.QueueFull,
        `service ${target.service} queue is full (${svc.entry.maxQueueSize} waiting)`,
      );
      return;
    }

    const headers = scanned.forward;
    const remote = req.socket.remoteAddress;
    const forwardedFor =
      scanned.forwardedFor === undefined ? remote : remote === undefined ? scanned.forwardedFor : `${scanned.forwardedFor}, ${remote}`;
    if (forwardedFor !== undefined) headers.push("x-forwarded-for", forwardedFor);
    const requestId = scanned.requestId ?? randomUUID();
    headers.push("x-request-id", requestId);

    let body: Readable | null = null;
    if (scanned.chunked) {
      const limiter = new ByteLimit(this.maxBodyBytes);
      body = req.pipe(limiter);
    } else if (scanned.contentLength > 0) {
      // Node's parser delivers exactly Content-Length bytes, so the up-front check above is enough.
      body = req;
    }

    // Admitted: a client waiting on Expect: 100-continue may send its body now (a rejected one never had to).
    if (scanned.expectContinue) res.writeContinue();
    const exchange = new Exchange(this, svc, req, res, requestId, start, target.path, headers, body);
    this.active++;
    (res as TaggedResponse)[kExchange] = exchange;
    res.on("close", onResponseClose);
    if (body !== null && body !== req) body.on("error", (err: Error) => exchange.onBodyError(err));
    const timeout = svc.entry.keepaliveMs;
    if (timeout > 0) exchange.timer = setTimeout(onExchangeTimeout, timeout, exchange);
    if (instance) {
      this.dispatch(exchange, instance);
    } else {
      exchange.node = svc.queue.push(exchange) ?? null;
    }
  }

  /**
   * Token check, with a per-connection memo: a keep-alive client that proved
   * the token once on this connection is not hashed again while it sends the
   * identical header value for the same token. The memo only ever holds a
   * value this very connection sent and that was valid, so comparing against
   * it reveals nothing to the sender it did not already know; any other
   * value takes the constant-time path.
   */
  authorized(socket: AuthCachingSocket, authorization: string | undefined, svc: ServiceState): boolean {
    const memo = socket[kAuthMemo];
    if (memo !== undefined && authorization !== undefined && memo.digest === svc.tokenDigest && memo.header === authorization) return true;
    if (!tokenMatches(presentedToken(authorization), svc.tokenDigest)) return false;
    if (authorization !== undefined) socket[kAuthMemo] = { digest: svc.tokenDigest, header: authorization };
    return true;
  }

  reject(
    svc: ServiceState,
    res: ServerResponse,
    start: number,
    code: GatewayErrorCode,
    message: string,
    closeConnection = false,
    extraHeaders?: readonly string[],
  ): void {
    sendError(res, code, message, closeConnection || this.closing, extraHeaders);
    if (this.metrics) this.metrics.observe(svc.entry.service, gatewayErrorStatus[code], this.now() - start);
  }

  /** WebSocket (and any other Upgrade) on /api/predict/{service}/...: authenticated, then tunnelled as raw TCP. */
  handleUpgrade(req: IncomingMessage, socket: Socket, head: Buffer): void {
    const target = splitPredictUrl(req.url ?? "/");
    if (!target) {
      rejectUpgrade(socket, 404, errorBody(GatewayErrorCode.NotFound, "upgrades are served under /api/predict/{service}"));
      return;
    }
    const svc = this.service(target.service);
    if (!svc) {
      rejectUpgrade(socket, 404, errorBody(GatewayErrorCode.ServiceNotFound, `service ${target.service} not found`));
      return;
    }
    let authorization: string | undefined;
    const raw = req.rawHeaders;
    for (let k = 0; k + 1 < raw.length; k += 2) if ((raw[k] as string).toLowerCase() === "authorization") authorization = raw[k + 1];
    if (!tokenMatches(presentedToken(authorization), svc.tokenDigest)) {
      rejectUpgrade(socket, 401, errorBody(GatewayErrorCode.Unauthorized, "missing or invalid token in the Authorization header"));
      return;
    }
    // Tunnels are long-lived: they are balanced like requests but do not hold a concurrency slot.
    const instance = svc.routable ? pickLeastOutstanding(svc.instances, 0, this.now(), svc.rotation++) : undefined;
    if (!instance || this.closing) {
      rejectUpgrade(socket, 503, errorBody(GatewayErrorCode.ServiceUnavailable, `service ${target.service} has no ready instance`), [
        "Retry-After",
        this.retryAfter,
      ]);
      return;
    }
    this.tunnels.add(socket);
    socket.once("close", () => this.tunnels.delete(socket));
    tunnelUpgrade({
      req,
      socket,
      head,
      endpoint: instance.endpoint,
      path: target.path,
      responseHeaders: ["X-Eas-Instance", instance.id],
      onUpstreamError: (err) => {
        this.eject(instance);
        this.logger.warn({ service: target.service, instance: instance.id, err: err.message }, "websocket upstream failed");
      },
    });
  }

  async close(server: Server): Promise<void> {
    this.closing = true;
    const closed = new Promise<void>((resolve) => server.close(() => resolve()));
    server.closeIdleConnections();
    if (this.active > 0) {
      let timer: NodeJS.Timeout | undefined;
      await new Promise<void>((resolve) => {
        this.#drained = resolve;
        timer = setTimeout(resolve, this.drainTimeoutMs);
      });
      clearTimeout(timer);
      this.#drained = null;
    }
    this.unsubscribe();
    for (const socket of this.tunnels) socket.destroy();
    server.closeAllConnections();
    const pools: Promise<void>[] = [];
    for (const svc of this.services.values()) {
      for (const waiting of svc.queue.drain()) {
        waiting.node = null;
        waiting.fail(GatewayErrorCode.ShuttingDown, "gateway is shutting down", true);
      }
      for (const instance of svc.instances) pools.push(instance.pool.destroy().catch(() => undefined));
    }
    this.services.clear();
    await Promise.all(pools);
    await closed;
  }

  snapshot(service: string): ServiceRoutingSnapshot | undefined {
    const svc = this.services.get(service);
    if (!svc) return undefined;
    const now = this.now();
    return {
      queued: svc.queue.size,
      instances: svc.instances.map((instance) => ({
        id: instance.id,
        endpoint: instance.endpoint,
        outstanding: instance.outstanding,
        ejected: instance.ejectedUntil > now,
      })),
      draining: [...svc.draining].map((instance) => ({ id: instance.id, endpoint: instance.endpoint, outstanding: instance.outstanding })),
    };
  }
}

/**
 * Creates the gateway's HTTP data plane: `/api/predict/{service}[/path]`
 * proxied to the service's Ready instances with token auth, least-outstanding
 * balancing under a per-instance concurrency limit, a bounded per-service
 * queue (450 when full), a per-service rate limit (429), request timeouts
 * (504), one retry elsewhere for requests that never reached their instance
 * (502 otherwise), streaming both ways, and WebSocket pass-through.
 */
export function createGatewayServer(options: GatewayServerOptions): GatewayServer {
  const core = new GatewayCore(options);
  const server = createServer({ keepAliveTimeout: 65_000 }, (req, res) => core.handle(req, res));
  // Without this listener Node would answer 100 Continue before the gateway has checked the token and limits.
  server.on("checkContinue", (req: IncomingMessage, res: ServerResponse) => core.handle(req, res));
  server.on("upgrade", (req: IncomingMessage, socket: Socket, head: Buffer) => core.handleUpgrade(req, socket, head));
  server.on("clientError", (err: NodeJS.ErrnoException, socket: Socket) => {
    if (err.code === "ECONNRESET" || !socket.writable) {
      socket.destroy();
      return;
    }
    socket.end("HTTP/1.1 400 Bad Request\r\nConnection: close\r\nContent-Length: 0\r\n\r\n");
  });
  let closing: Promise<void> | undefined;
  return {
    server,
    listen(port: number, host = "127.0.0.1"): Promise<{ port: number }> {
      return new Promise((resolve, reject) => {
        const onError = (err: Error): void => reject(err);
        server.once("error", onError);
        server.listen(port, host, () => {
          server.off("error", onError);
          const address = server.address();
          resolve({ port: typeof address === "object" && address ? address.port : port });
        });
      });
    },
    close(): Promise<void> {
      closing ??= core.close(server);
      return closing;
    },
    snapshot: (service) => core.snapshot(service),
  };
}

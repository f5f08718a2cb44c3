import type { IncomingMessage, ServerResponse } from "node:http";
import { Transform, type Readable, type TransformCallback } from "node:stream";
import { context } from "@opentelemetry/api";
import type { Dispatcher } from "undici";
import type { QueueNode } from "./bounded-queue.js";
import { GatewayErrorCode, gatewayErrorStatus, sendError } from "./errors.js";
import type { GatewayLogger } from "./gateway-options.js";
import { responseHeaders, type ResponseFraming } from "./headers.js";
import type { ServiceRoute } from "./service-route.js";
import type { Upstream } from "./upstream.js";

/** Thrown into a streamed (chunked) request body once it passes `maxBodyBytes`. */
export class RequestBodyTooLargeError extends Error {
  override readonly name = "RequestBodyTooLargeError";
  constructor(readonly limitBytes: number) {
    super(`request body exceeds ${limitBytes} bytes`);
  }
}

/** Counts a streamed request body and fails it past the limit; only used for bodies without Content-Length. */
export class ByteLimit extends Transform {
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

/** The route an exchange belongs to: its requests wait in the route's queue. */
export type ExchangeRoute = ServiceRoute<Exchange>;

/** What an exchange reports to, and asks of, the part that dispatches it. */
export interface ExchangeOwner {
  readonly logger: GatewayLogger;
  /** The gateway is shutting down: answers close their connection. */
  readonly closing: boolean;
  /** The exchange's request to `upstream` ended (completed, failed or aborted): its slot is free. */
  released(exchange: Exchange, upstream: Upstream): void;
  /** The first attempt, on `failed`, never reached its instance: try once more elsewhere. */
  retry(exchange: Exchange, failed: Upstream): void;
  /** The exchange is over (answered, failed or abandoned); called once. */
  finished(exchange: Exchange): void;
}

const kExchange = Symbol("eas.exchange");
type TaggedResponse = ServerResponse & { [kExchange]?: Exchange };

/**
 * One client request on its way through the gateway, from admission to the end of its response;
 * also the undici dispatch handler for it (the legacy callback API, which undici's core calls
 * directly, with raw header buffers; the newer controller API is wrapped on every call). One
 * object per request is the only per-request allocation the proxy adds besides the header lists.
 * Its state is its own: the dispatcher sends it ({@link send}) or queues it ({@link waitIn}), and
 * hears back through {@link ExchangeOwner}.
 */
export class Exchange implements Dispatcher.DispatchHandler, ResponseFraming {
  readonly options: Dispatcher.DispatchOptions;
  /** Content-Length of the upstream response, -1 when it streams without one (written by `responseHeaders`). */
  contentLength = -1;
  /** Body bytes received from the client (its Content-Length) and sent to it, for the metrics. */
  bytesIn = 0;
  bytesOut = 0;
  #upstream: Upstream | null = null;
  #node: QueueNode<Exchange> | null = null;
  /** Held for a service at zero: its timer is the hold timer until it is sent. */
  #holding = false;
  #timer: NodeJS.Timeout | null = null;
  #abortUpstream: ((err?: Error) => void) | null = null;
  #resumeUpstream: (() => void) | null = null;
  /** A dispatch is running: the instance slot is held until onComplete/onError. */
  #upstreamActive = false;
  /** onConnect ran for the current dispatch: bytes may have left for the instance. */
  #connected = false;
  #attempts = 0;
  /** A response (from upstream or an error of ours) is committed, or the client is gone. */
  #answered = false;
  #cancelled: ExchangeCancelled | null = null;
  #status = 0;
  #drainListening = false;
  #done = false;
  /** A body that arrived whole in one chunk, held to go out with `end()`: one write call instead of two. */
  #held: Buffer | null = null;
  /** The request's trace context (its server span), restored when it is sent, queued or not (upstream-tracing.ts). */
  readonly #traceContext = context.active();

  constructor(
    readonly owner: ExchangeOwner,
    readonly route: ExchangeRoute,
    readonly req: IncomingMessage,
    readonly res: ServerResponse,
    readonly requestId: string,
    /** Arrival time, on the gateway's clock. */
    readonly start: number,
    path: string,
    headers: string[],
    body: Readable | null,
  ) {
    const timeout = route.entry.keepaliveMs;
    this.options = {
      path,
      method: (req.method ?? "GET") as Dispatcher.HttpMethod,
      headers,
      body,
      // The wait for headers is bounded by the exchange's own timer (it also covers time queued); undici bounds silences in the body.
      headersTimeout: 0,
      bodyTimeout: timeout > 0 ? timeout : 0,
    };
    (res as TaggedResponse)[kExchange] = this;
    res.on("close", onResponseClose);
    if (body !== null && body !== req) body.on("error", (err: Error) => this.#onBodyError(err));
    if (timeout > 0) this.#timer = setTimeout(onExchangeTimeout, timeout, this);
  }

  /** Whether a response is committed (or the client is gone). */
  get answered(): boolean {
    return this.#answered;
  }

  /** The status answered; 499 when the client left first, 0 while unanswered. */
  get status(): number {
    return this.#status;
  }

  /** The instance of the latest attempt, null before the first. */
  get upstream(): Upstream | null {
    return this.#upstream;
  }

  /** Sends the request to `upstream` (one attempt). */
  send(upstream: Upstream): void {
    if (this.#holding) {
      // Held at zero: the request timeout counts from now, not from its arrival.
      this.#holding = false;
      this.#clearTimer();
      const timeout = this.route.entry.keepaliveMs;
      if (timeout > 0) this.#timer = setTimeout(onExchangeTimeout, timeout, this);
    }
    this.#upstream = upstream;
    this.#attempts++;
    this.#connected = false;
    this.#abortUpstream = null;
    this.#upstreamActive = true;
    // Errors thrown inside dispatch (closed pool, invalid header) come back through onError.
    context.with(this.#traceContext, upstream.dispatch, upstream, this.options, this);
  }

  /**
   * Waits for a service at zero to get its first instance (`cold-start.ts`): at the end of `queue` (up to
   * `capacity`), with a hold timer of `maxWaitMs` in place of the request timeout, which starts over when the
   * request is sent. Past the wait: 503 with `Retry-After`.
   */
  holdIn(queue: ExchangeRoute["queue"], capacity: number, maxWaitMs: number, retryAfter: string): void {
    this.#clearTimer();
    this.#holding = true;
    this.#node = queue.push(this, capacity) ?? null;
    this.#timer = setTimeout(onHoldTimeout, maxWaitMs, this, maxWaitMs, retryAfter);
  }

  onHoldTimeout(maxWaitMs: number, retryAfter: string): void {
    this.#timer = null;
    if (this.#answered) return;
    this.#leaveQueue();
    this.fail(
      GatewayErrorCode.ServiceUnavailable,
      `service ${this.route.name} is scaling up from zero and had no ready instance within ${maxWaitMs} ms`,
      false,
      ["retry-after", retryAfter],
    );
  }

  /** Waits at the end of `queue` (not full: the caller checked), or first in line for a retry. */
  waitIn(queue: ExchangeRoute["queue"], first = false): void {
    this.#node = first ? queue.unshift(this) : (queue.push(this) ?? null);
  }

  onConnect(abort: (err?: Error) => void): void {
    if (this.#cancelled) {
      abort(this.#cancelled);
      return;
    }
    this.#abortUpstream = abort;
    this.#connected = true;
  }

  onHeaders(statusCode: number, rawHeaders: Buffer[], resume: () => void, statusText: string): boolean {
    if (statusCode < 200) return true;
    if (this.#answered) {
      this.cancel(this.#cancelled ?? new ExchangeCancelled("client-gone"));
      return false;
    }
    this.#answered = true;
    this.#status = statusCode;
    this.#clearTimer();
    this.#resumeUpstream = resume;
    const upstream = this.#upstream as Upstream;
    const res = this.res;
    if (this.owner.closing) res.shouldKeepAlive = false;
    // Headers go out with the first body chunk (one write for small responses); a streamed body's chunks are written as they arrive.
    res.writeHead(
      statusCode,
      statusText || undefined,
      responseHeaders(rawHeaders, ["x-eas-instance", upstream.id, "x-request-id", this.requestId], this),
    );
    return true;
  }

  onData(chunk: Buffer): boolean {
    this.bytesOut += chunk.length;
    const res = this.res;
    if (res.destroyed) return true;
    if (this.#held === null && chunk.length === this.contentLength) {
      this.#held = chunk;
      return true;
    }
    if (this.#held !== null) {
      res.write(this.#held);
      this.#held = null;
    }
    if (res.write(chunk)) return true;
    if (!this.#drainListening) {
      this.#drainListening = true;
      res.on("drain", onResponseDrain);
    }
    return false;
  }

  onComplete(): void {
    this.#release();
    const held = this.#held;
    this.#held = null;
    if (!this.res.destroyed) {
      if (held !== null) this.res.end(held);
      else this.res.end();
    }
    this.#finish();
  }

  onError(err: Error): void {
    this.#release();
    if (this.#cancelled || (this.#answered && !this.res.headersSent)) {
      // We answered already (timeout, 413, shutdown) or the client left; nothing more to say.
      return;
    }
    const upstream = this.#upstream as Upstream;
    if (this.res.headersSent) {
      this.owner.logger.warn({ service: this.route.name, instance: upstream.id, err: err.message }, "upstream failed mid-response");
      this.res.destroy(err);
      this.#finish();
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
    if (this.#attempts === 1 && (!this.#connected || this.#replayableAfterReset(err))) {
      // Either nothing reached the instance (refused, reset while connecting, pool closed because the
      // instance just left the table): safe to replay once elsewhere, even for POST; or a bodiless
      // idempotent request lost its connection before any response byte (RFC 9110 9.2.2), typically
      // a keep-alive connection the instance closed as it shut down.
      this.owner.logger.debug({ service: this.route.name, instance: upstream.id, err: code }, "retrying on another instance");
      this.owner.retry(this, upstream);
      return;
    }
    if (code === "UND_ERR_BODY_TIMEOUT" || code === "UND_ERR_HEADERS_TIMEOUT") {
      this.fail(GatewayErrorCode.UpstreamTimeout, `instance ${upstream.id} timed out`);
    } else {
      this.fail(GatewayErrorCode.BadGateway, `instance ${upstream.id} failed: ${code}`);
    }
  }

  /** Answers with a gateway error unless a response is already committed. */
  fail(code: GatewayErrorCode, message: string, closeConnection = false, extraHeaders?: readonly string[]): void {
    if (this.#answered) return;
    this.#answered = true;
    this.#clearTimer();
    this.#status = gatewayErrorStatus[code];
    sendError(this.res, code, message, closeConnection || this.owner.closing, extraHeaders);
    this.#finish();
  }

  /** Gives up on the upstream part: aborts a running dispatch now or as soon as it connects. */
  cancel(reason: ExchangeCancelled): void {
    if (!this.#cancelled) this.#cancelled = reason;
    if (this.#upstreamActive && this.#abortUpstream) this.#abortUpstream(reason);
  }

  onTimeout(): void {
    this.#timer = null;
    if (this.#answered) return;
    this.#leaveQueue();
    this.fail(GatewayErrorCode.UpstreamTimeout, `no response within ${this.route.entry.keepaliveMs} ms`);
    this.cancel(new ExchangeCancelled("timeout"));
  }

  onClientGone(): void {
    if (this.res.writableFinished) return;
    this.#leaveQueue();
    if (!this.#answered) this.#status = 499;
    this.#answered = true;
    this.#clearTimer();
    this.cancel(new ExchangeCancelled("client-gone"));
    this.#finish();
  }

  resumeUpstream(): void {
    this.#resumeUpstream?.();
  }

  #onBodyError(err: Error): void {
    if (err instanceof RequestBodyTooLargeError) {
      this.#leaveQueue();
      this.fail(GatewayErrorCode.PayloadTooLarge, err.message, true);
      this.cancel(new ExchangeCancelled("body-too-large"));
    }
  }

  #replayableAfterReset(err: Error): boolean {
    const method = this.options.method;
    if (
      this.options.body !== null ||
      !(method === "GET" || method === "HEAD" || method === "OPTIONS" || method === "DELETE" || method === "PUT")
    )
      return false;
    const code = errorCode(err);
    return code === "ECONNRESET" || code === "EPIPE" || code === "UND_ERR_SOCKET";
  }

  /** Out of the route's queue, if it still waits there (the dispatcher may have taken it out already). */
  #leaveQueue(): void {
    if (this.#node) {
      this.route.queue.remove(this.#node);
      this.#node = null;
    }
  }

  #release(): void {
    if (!this.#upstreamActive) return;
    this.#upstreamActive = false;
    this.#abortUpstream = null;
    this.owner.released(this, this.#upstream as Upstream);
  }

  #clearTimer(): void {
    if (this.#timer) {
      clearTimeout(this.#timer);
      this.#timer = null;
    }
  }

  /** Accounts for the end of the exchange, once. */
  #finish(): void {
    if (this.#done) return;
    this.#done = true;
    (this.res as TaggedResponse)[kExchange] = undefined;
    this.owner.finished(this);
  }
}

function onExchangeTimeout(exchange: Exchange): void {
  exchange.onTimeout();
}

function onHoldTimeout(exchange: Exchange, maxWaitMs: number, retryAfter: string): void {
  exchange.onHoldTimeout(maxWaitMs, retryAfter);
}

function onResponseClose(this: TaggedResponse): void {
  const exchange = this[kExchange];
  if (exchange) {
    this[kExchange] = undefined;
    exchange.onClientGone();
  }
}

function onResponseDrain(this: TaggedResponse): void {
  this[kExchange]?.resumeUpstream();
}

function errorCode(err: Error): string {
  const code = (err as NodeJS.ErrnoException).code;
  return typeof code === "string" ? code : err.name;
}

import { Transform, type TransformCallback } from "node:stream";
import type { Dispatcher } from "undici";
import type { GatewayLogger } from "./gateway-options.js";
import type { Lane } from "./lanes.js";
import type { RequestObservation } from "./observation.js";
import type { ServiceRoute } from "./service-route.js";
import type { Upstream } from "./upstream.js";

/**
 * What became of a request chosen for a copy: `sent` to an instance of the target, then `ok` (answered below
 * 500) or `failed` (5xx, connection error, no answer in time); or `shed`, never sent (the source's copies in
 * flight at their limit, no free Ready instance of the target, a body over the copy limit, the client gone
 * before its body was whole).
 */
export type MirrorOutcome = "sent" | "ok" | "failed" | "shed";

/** Limits of mirroring, per source service. */
export interface MirrorLimits {
  /** Copies of one service's requests in flight at once; beyond it copies are shed. */
  maxInFlight: number;
  /** Largest request body copied (it is held in memory until whole); a larger one is shed. */
  maxBodyBytes: number;
  /** How long a copy may wait for its answer when the target has no `keepalive` of its own. */
  defaultTimeoutMs: number;
}

/** What the mirror needs of the rest of the proxy. */
export interface MirrorContext {
  routeOf(service: string): ServiceRoute<unknown> | undefined;
  /** A copy freed a slot on an instance of `route`: requests waiting there may go. */
  slotFreed(route: ServiceRoute<unknown>): void;
  readonly observation: RequestObservation;
  readonly logger: GatewayLogger;
  readonly now: () => number;
}

/**
 * Traffic mirroring: copies of a share of a service's requests sent to another service (or one version of
 * it), their answers measured and thrown away. The client's request never waits on its copy: the copy
 * leaves once the client's body has been read whole (it is buffered for that, and only for requests chosen
 * for a copy, up to {@link MirrorLimits.maxBodyBytes}), it is sent only when the source has fewer than
 * {@link MirrorLimits.maxInFlight} copies in flight and the target has a Ready instance with a free slot,
 * and is shed (counted) otherwise. A slow or dead target therefore costs the source at most that many
 * pending copies, never a queued request. See ADR 0042.
 */
export class Mirror {
  readonly #context: MirrorContext;
  readonly #limits: MirrorLimits;
  /** Copies in flight per source service. */
  readonly #inFlight = new Map<string, number>();

  constructor(context: MirrorContext, limits: MirrorLimits) {
    this.#context = context;
    this.#limits = limits;
  }

  /**
   * For a request admitted to `source`: undefined when it is not copied (no mirror, or not drawn), otherwise
   * the copy, which leaves once {@link MirrorCopy.bodyComplete} hands it the body (at once for a bodiless
   * request). `contentLength` is -1 when the request declares none.
   */
  copyOf(
    source: ServiceRoute<unknown>,
    method: string,
    path: string,
    headers: readonly string[],
    contentLength: number,
  ): MirrorCopy | undefined {
    const mirror = source.mirror;
    if (!mirror || !source.drawMirror()) return undefined;
    if (contentLength > this.#limits.maxBodyBytes || (this.#inFlight.get(source.name) ?? 0) >= this.#limits.maxInFlight) {
      this.#context.observation.mirrored(source.name, mirror.target, "shed");
      return undefined;
    }
    const copyHeaders = [...headers, "x-eas-mirror-of", source.name];
    return new MirrorCopy(this, source.name, mirror.target, mirror.targetVersion, method, path, copyHeaders, this.#limits.maxBodyBytes);
  }

  /** Sends `copy` with `body`, or sheds it. */
  send(copy: MirrorCopy, body: Buffer | null): void {
    const { observation, now } = this.#context;
    const target = this.#context.routeOf(copy.target);
    const inFlight = this.#inFlight.get(copy.source) ?? 0;
    const lane: Lane | undefined = target ? (copy.targetVersion > 0 ? copy.targetVersion : target.drawLane()) : undefined;
    const upstream = target && lane !== undefined && target.laneRoutable(lane) ? target.pick(lane, now()) : undefined;
    if (!target || !upstream || inFlight >= this.#limits.maxInFlight) {
      observation.mirrored(copy.source, copy.target, "shed");
      return;
    }
    this.#inFlight.set(copy.source, inFlight + 1);
    observation.mirrored(copy.source, copy.target, "sent");
    const keepalive = target.entry.keepaliveMs;
    copy.dispatch(target, upstream, body, keepalive > 0 ? keepalive : this.#limits.defaultTimeoutMs, now());
  }

  /** The client's request ended before its body was whole: its copy is never sent. */
  abandoned(copy: MirrorCopy): void {
    this.#context.observation.mirrored(copy.source, copy.target, "shed");
  }

  /** A copy that was sent has its answer (or gave up on it). */
  ended(
    copy: MirrorCopy,
    target: ServiceRoute<unknown>,
    upstream: Upstream,
    status: number,
    start: number,
    bytesIn: number,
    bytesOut: number,
  ): void {
    const { observation, slotFreed } = this.#context;
    const left = (this.#inFlight.get(copy.source) ?? 1) - 1;
    if (left === 0) this.#inFlight.delete(copy.source);
    else this.#inFlight.set(copy.source, left);
    observation.mirrored(copy.source, copy.target, status > 0 && status < 500 ? "ok" : "failed");
    // The copy's answer is the target's traffic: its instance served it.
    observation.answered(copy.target, status, start, upstream.id, bytesIn, bytesOut);
    if (target.finished(upstream) && target.queued > 0) slotFreed(target);
  }

  get logger(): GatewayLogger {
    return this.#context.logger;
  }
}

/**
 * One copy of a client's request, on its way to the mirror target: the tee that collects the client's body
 * as it streams to the primary instance (a pass-through Transform, so the primary's flow control is
 * unchanged), then the undici dispatch handler that reads the target's answer and drops it.
 */
export class MirrorCopy implements Dispatcher.DispatchHandler {
  #chunks: Buffer[] | null = [];
  #bytes = 0;
  #settled = false;
  #target: ServiceRoute<unknown> | null = null;
  #upstream: Upstream | null = null;
  #abort: ((err?: Error) => void) | null = null;
  #timer: NodeJS.Timeout | null = null;
  #timedOut = false;
  #status = 0;
  #bytesOut = 0;
  #start = 0;

  constructor(
    readonly mirror: Mirror,
    readonly source: string,
    readonly target: string,
    readonly targetVersion: number,
    readonly method: string,
    readonly path: string,
    readonly headers: string[],
    readonly maxBodyBytes: number,
  ) {}

  /** A pass-through stream for the client's body that keeps a copy of it; the copy leaves when the body ends. */
  tee(): Transform {
    return new MirrorTee(this);
  }

  /** The client's body is whole (or there is none): the copy leaves now. */
  bodyComplete(): void {
    if (this.#settled) return;
    this.#settled = true;
    const chunks = this.#chunks;
    this.#chunks = null;
    if (chunks === null) return;
    this.mirror.send(this, chunks.length === 0 ? null : chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks, this.#bytes));
  }

  dispatch(target: ServiceRoute<unknown>, upstream: Upstream, body: Buffer | null, timeoutMs: number, now: number): void {
    this.#target = target;
    this.#upstream = upstream;
    this.#start = now;
    this.#timer = setTimeout(() => this.#onTimeout(), timeoutMs);
    this.#timer.unref();
    // Transfer-Encoding was dropped with the hop-by-hop headers; undici frames a Buffer body with its Content-Length.
    upstream.dispatch(
      {
        path: this.path,
        method: this.method as Dispatcher.HttpMethod,
        headers: this.headers,
        body,
        headersTimeout: 0,
        bodyTimeout: timeoutMs,
      },
      this,
    );
  }

  onConnect(abort: (err?: Error) => void): void {
    if (this.#timedOut) abort(new Error("mirror copy timed out"));
    else this.#abort = abort;
  }

  onHeaders(statusCode: number): boolean {
    if (statusCode >= 200) this.#status = statusCode;
    return true;
  }

  onData(chunk: Buffer): boolean {
    this.#bytesOut += chunk.length;
    return true;
  }

  onComplete(): void {
    this.#end(this.#status);
  }

  onError(err: Error): void {
    this.mirror.logger.debug({ source: this.source, target: this.target, err: err.message }, "mirror copy failed");
    this.#end(this.#timedOut ? 504 : 502);
  }

  /** A chunk of the client's body went by. */
  collect(chunk: Buffer): void {
    const chunks = this.#chunks;
    if (chunks === null) return;
    this.#bytes += chunk.length;
    if (this.#bytes > this.maxBodyBytes) {
      this.#chunks = null;
      this.#settled = true;
      this.mirror.abandoned(this);
      return;
    }
    chunks.push(chunk);
  }

  /** The client's body stream was destroyed: unless it had ended, the copy is never sent. */
  giveUp(): void {
    if (this.#settled) return;
    this.#settled = true;
    this.#chunks = null;
    this.mirror.abandoned(this);
  }

  #onTimeout(): void {
    this.#timer = null;
    this.#timedOut = true;
    this.#abort?.(new Error("mirror copy timed out"));
  }

  #end(status: number): void {
    const target = this.#target;
    const upstream = this.#upstream;
    if (!target || !upstream) return;
    this.#target = null;
    this.#upstream = null;
    this.#abort = null;
    if (this.#timer) clearTimeout(this.#timer);
    this.#timer = null;
    this.mirror.ended(this, target, upstream, status, this.#start, this.#bytes, this.#bytesOut);
  }
}

/** The pass-through the client's body flows through on its way to the primary instance while it is copied. */
class MirrorTee extends Transform {
  readonly #copy: MirrorCopy;

  constructor(copy: MirrorCopy) {
    super();
    this.#copy = copy;
  }

  override _transform(chunk: Buffer, _encoding: BufferEncoding, callback: TransformCallback): void {
    this.#copy.collect(chunk);
    callback(null, chunk);
  }

  override _flush(callback: TransformCallback): void {
    this.#copy.bodyComplete();
    callback();
  }

  override _destroy(err: Error | null, callback: (error?: Error | null) => void): void {
    this.#copy.giveUp();
    callback(err);
  }
}

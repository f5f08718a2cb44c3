import { pickLeastOutstanding } from "./balancer.js";
import { BoundedQueue } from "./bounded-queue.js";
import type { GatewayLogger } from "./gateway-options.js";
import type { RouteEntry } from "./route-table.js";
import { TokenBucket } from "./token-bucket.js";
import { Upstream } from "./upstream.js";

/** Per-service routing state as seen by one gateway, for tests and diagnostics. */
export interface ServiceRoutingSnapshot {
  queued: number;
  instances: { id: string; endpoint: string; outstanding: number; ejected: boolean }[];
  /** Instances removed from the table that still have requests in flight. */
  draining: { id: string; endpoint: string; outstanding: number }[];
}

/** Requests a service has queued and in flight in this gateway right now. */
export interface ServiceLoadSnapshot {
  service: string;
  queued: number;
  instances: { id: string; inFlight: number }[];
}

/**
 * One service as the proxy routes it, built when its route appears and updated in place as it
 * changes: everything the hot path needs is precomputed (token digest, rate limit bucket, instances
 * with their connection pools), so a request only reads fields. It owns its instances (the
 * {@link Upstream}s) and the choice among them ({@link pick}); requests waiting for a free instance
 * wait in its {@link queue}, which the dispatcher fills and empties.
 *
 * `Waiting` is what waits in the queue (the proxy's exchanges); the route never looks inside.
 */
export class ServiceRoute<Waiting> {
  readonly name: string;
  /** Requests waiting for a free instance; the route only sets its capacity. */
  readonly queue: BoundedQueue<Waiting>;
  readonly #logger: GatewayLogger;
  #entry: RouteEntry;
  #tokenDigest: Buffer;
  #bucket: TokenBucket | null;
  #upstreams: Upstream[] = [];
  /** Upstreams removed from the route with requests still in flight. */
  readonly #draining = new Set<Upstream>();
  #rotation = 0;
  #routable = false;
  #removed = false;

  constructor(entry: RouteEntry, now: number, logger: GatewayLogger) {
    this.name = entry.service;
    this.#logger = logger;
    this.#entry = entry;
    this.#tokenDigest = Buffer.from(entry.tokenSha256, "hex");
    this.#bucket = entry.rateLimit > 0 ? new TokenBucket(entry.rateLimit, now) : null;
    this.queue = new BoundedQueue(entry.maxQueueSize);
    this.#syncUpstreams(entry);
  }

  get entry(): RouteEntry {
    return this.#entry;
  }

  /** SHA-256 of the service's token. */
  get tokenDigest(): Buffer {
    return this.#tokenDigest;
  }

  /** The service's rate limit; null when it has none. */
  get bucket(): TokenBucket | null {
    return this.#bucket;
  }

  /** Running with at least one Ready instance. */
  get routable(): boolean {
    return this.#routable;
  }

  /**
   * No Ready instance, but one is coming when asked: the service scales from zero and is at zero or starting
   * (not stopped, deleted, or blocked from placement: those answer 503 with their reason at once). Requests
   * then wait in the queue for the first Ready instance instead of getting a 503.
   */
  get holdsRequests(): boolean {
    const { state } = this.#entry;
    return !this.#routable && !this.#removed && this.#entry.scaleFromZero === true && (state === "scaled-to-zero" || state === "starting");
  }

  /** Deleted from the route table: the route is no longer in use. */
  get removed(): boolean {
    return this.#removed;
  }

  /** Applies a new entry of the same service: kept instances keep their counts and pools, new ones get a pool now. */
  update(entry: RouteEntry, now: number): void {
    if (this.#entry.tokenSha256 !== entry.tokenSha256) this.#tokenDigest = Buffer.from(entry.tokenSha256, "hex");
    if (this.#entry.rateLimit !== entry.rateLimit) this.#bucket = entry.rateLimit > 0 ? new TokenBucket(entry.rateLimit, now) : null;
    this.queue.capacity = entry.maxQueueSize;
    this.#entry = entry;
    this.#syncUpstreams(entry);
  }

  /** The service left the route table: every instance is retired, nothing is routable any more. */
  remove(): void {
    this.#removed = true;
    this.#routable = false;
    for (const upstream of this.#upstreams) upstream.retire(this.#logger);
    this.#upstreams = [];
  }

  /**
   * Route selection: the instance the next request goes to, or undefined when every instance is at
   * its concurrency limit (or there is none). Least outstanding requests, ties in turn, ejected
   * instances last; `exclude` is an instance that just failed. The one place an instance is chosen,
   * for requests, retries and the queue alike.
   */
  pick(now: number, exclude?: Upstream): Upstream | undefined {
    return pickLeastOutstanding(this.#upstreams, this.#entry.maxConcurrency, now, this.#rotation++, exclude);
  }

  /**
   * Route selection for a tunnel (WebSocket): balanced like a request, but it holds no concurrency
   * slot (tunnels are long-lived), so it is undefined only when the route is not routable.
   */
  pickForTunnel(now: number): Upstream | undefined {
    return this.#routable ? pickLeastOutstanding(this.#upstreams, 0, now, this.#rotation++) : undefined;
  }

  /** Whether the route holds an instance other than `upstream`. */
  hasOtherThan(upstream: Upstream): boolean {
    return this.#upstreams.some((candidate) => candidate !== upstream);
  }

  /**
   * A request sent to `upstream` has ended; returns whether a slot freed up for the queue
   * (false when the upstream had left the route already).
   */
  finished(upstream: Upstream): boolean {
    upstream.finished();
    if (!upstream.retired) return true;
    if (upstream.outstanding === 0) this.#draining.delete(upstream);
    return false;
  }

  /** Cuts every connection of the route's instances (gateway shutdown). */
  destroy(): Promise<void>[] {
    return this.#upstreams.map((upstream) => upstream.destroy());
  }

  /** Requests queued and in flight (removed instances still draining included); undefined when there are none. */
  load(): ServiceLoadSnapshot | undefined {
    const instances: { id: string; inFlight: number }[] = [];
    for (const upstream of this.#upstreams)
      if (upstream.outstanding > 0) instances.push({ id: upstream.id, inFlight: upstream.outstanding });
    for (const upstream of this.#draining)
      if (upstream.outstanding > 0) instances.push({ id: upstream.id, inFlight: upstream.outstanding });
    if (instances.length === 0 && this.queue.size === 0) return undefined;
    return { service: this.name, queued: this.queue.size, instances };
  }

  snapshot(now: number): ServiceRoutingSnapshot {
    return {
      queued: this.queue.size,
      instances: this.#upstreams.map((upstream) => ({
        id: upstream.id,
        endpoint: upstream.endpoint,
        outstanding: upstream.outstanding,
        ejected: upstream.ejectedUntil > now,
      })),
      draining: [...this.#draining].map((upstream) => ({
        id: upstream.id,
        endpoint: upstream.endpoint,
        outstanding: upstream.outstanding,
      })),
    };
  }

  /** Diffs the instances by id: kept ones stay as they are, new ones are opened, removed ones drain. */
  #syncUpstreams(entry: RouteEntry): void {
    const previous = new Map<string, Upstream>();
    for (const upstream of this.#upstreams) previous.set(upstream.id, upstream);
    const next: Upstream[] = [];
    for (const instance of entry.instances) {
      const kept = previous.get(instance.id);
      if (kept && kept.endpoint === instance.endpoint) {
        previous.delete(instance.id);
        next.push(kept);
      } else {
        next.push(new Upstream(instance));
      }
    }
    // Removed instances: in-flight requests finish (pool.close waits for them), nothing new is sent.
    for (const gone of previous.values()) {
      gone.retire(this.#logger);
      if (gone.outstanding > 0) this.#draining.add(gone);
    }
    this.#upstreams = next;
    this.#routable = entry.state !== "stopped" && next.length > 0;
  }
}

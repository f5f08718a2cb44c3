import { pickLeastOutstanding } from "./balancer.js";
import { BoundedQueue } from "./bounded-queue.js";
import type { GatewayLogger } from "./gateway-options.js";
import { CANARY_LANE, STABLE_LANE, type Lane } from "./lanes.js";
import type { RouteEntry, RouteMirror } from "./route-table.js";
import { TokenBucket } from "./token-bucket.js";
import { Upstream } from "./upstream.js";
import { WeightedDraw } from "./weighted-draw.js";

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

/** Whether a version pinned with `X-Eas-Version` can take a request now. */
export type PinnedVersionState = "ready" | "not-ready" | "unknown";

const NO_UPSTREAMS: readonly Upstream[] = [];

/**
 * One service as the proxy routes it, built when its route appears and updated in place as it
 * changes: everything the hot path needs is precomputed (token digest, rate limit bucket, instances
 * with their connection pools, the instances of each lane), so a request only reads fields. It owns
 * its instances (the {@link Upstream}s) and the choice among them: {@link drawLane} picks the stable
 * version or the canary for a request by weight (only among Ready instances), {@link pick} the
 * instance inside the request's lane. Requests waiting for a free instance wait in their lane's
 * queue, which the dispatcher fills and empties.
 *
 * `Waiting` is what waits in the queues (the proxy's exchanges); the route never looks inside.
 */
export class ServiceRoute<Waiting> {
  readonly name: string;
  readonly #logger: GatewayLogger;
  #entry: RouteEntry;
  #tokenDigest: Buffer;
  #bucket: TokenBucket | null;
  #upstreams: Upstream[] = [];
  /** The instances of each lane: stable, canary, and by version for pinned requests. */
  #stable: readonly Upstream[] = NO_UPSTREAMS;
  #canary: readonly Upstream[] = NO_UPSTREAMS;
  #byVersion = new Map<number, Upstream[]>();
  #canaryWeight = 0;
  readonly #draw: WeightedDraw;
  /** [stable weight, canary weight], reused by every draw. */
  readonly #weights = [100, 0];
  readonly #mirrorDraw: WeightedDraw;
  /** [not copied, copied], reused by every mirror draw. */
  readonly #mirrorWeights = [100, 0];
  /** Requests waiting for a free instance, by lane (the stable queue is made up front, the others when first used). */
  readonly #queues = new Map<Lane, BoundedQueue<Waiting>>();
  readonly #stableQueue: BoundedQueue<Waiting>;
  /** Upstreams removed from the route with requests still in flight. */
  readonly #draining = new Set<Upstream>();
  #rotation = 0;
  #routable = false;
  #removed = false;

  constructor(entry: RouteEntry, now: number, logger: GatewayLogger, random: () => number = Math.random) {
    this.name = entry.service;
    this.#logger = logger;
    this.#entry = entry;
    this.#draw = new WeightedDraw(random);
    this.#mirrorDraw = new WeightedDraw(random);
    this.#tokenDigest = Buffer.from(entry.tokenSha256, "hex");
    this.#bucket = entry.rateLimit > 0 ? new TokenBucket(entry.rateLimit, now) : null;
    this.#stableQueue = new BoundedQueue(entry.maxQueueSize);
    this.#queues.set(STABLE_LANE, this.#stableQueue);
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

  /** Not stopped, with a Ready instance a request that pins no version may go to. */
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

  get mirror(): RouteMirror | undefined {
    return this.#entry.mirror;
  }

  /** Requests waiting, every lane together. */
  get queued(): number {
    let queued = this.#stableQueue.size;
    if (this.#queues.size > 1) for (const [lane, queue] of this.#queues) if (lane !== STABLE_LANE) queued += queue.size;
    return queued;
  }

  /** The service's queue limit is reached: a request with no free instance is answered 450. */
  get queueFull(): boolean {
    return this.queued >= this.#entry.maxQueueSize;
  }

  /** The queue requests of `lane` wait in. */
  queueOf(lane: Lane): BoundedQueue<Waiting> {
    let queue = this.#queues.get(lane);
    if (!queue) {
      queue = new BoundedQueue(this.#entry.maxQueueSize);
      this.#queues.set(lane, queue);
    }
    return queue;
  }

  /** Every lane's queue, stable first. */
  queues(): IterableIterator<[Lane, BoundedQueue<Waiting>]> {
    return this.#queues.entries();
  }

  /** Applies a new entry of the same service: kept instances keep their counts and pools, new ones get a pool now. */
  update(entry: RouteEntry, now: number): void {
    if (this.#entry.tokenSha256 !== entry.tokenSha256) this.#tokenDigest = Buffer.from(entry.tokenSha256, "hex");
    if (this.#entry.rateLimit !== entry.rateLimit) this.#bucket = entry.rateLimit > 0 ? new TokenBucket(entry.rateLimit, now) : null;
    for (const queue of this.#queues.values()) queue.capacity = entry.maxQueueSize;
    this.#entry = entry;
    this.#syncUpstreams(entry);
  }

  /** The service left the route table: every instance is retired, nothing is routable any more. */
  remove(): void {
    this.#removed = true;
    this.#routable = false;
    for (const upstream of this.#upstreams) upstream.retire(this.#logger);
    this.#upstreams = [];
    this.#stable = NO_UPSTREAMS;
    this.#canary = NO_UPSTREAMS;
    this.#byVersion = new Map();
  }

  /**
   * The lane of a request that pins no version: the canary's with its weight's share of the draws (exactly,
   * see {@link WeightedDraw}), the stable one otherwise, and only among lanes with a Ready instance: a canary
   * without one gets nothing, and while the stable version has none every request goes to the canary (unless
   * its weight is 0). Drawn once per request, at admission.
   */
  drawLane(): Lane {
    const canaryWeight = this.#canaryWeight;
    if (canaryWeight === 0 || this.#canary.length === 0) return STABLE_LANE;
    if (this.#stable.length === 0) return CANARY_LANE;
    const weights = this.#weights;
    weights[0] = 100 - canaryWeight;
    weights[1] = canaryWeight;
    return this.#draw.draw(weights) === 1 ? CANARY_LANE : STABLE_LANE;
  }

  /** Whether this request is copied to the mirror: exactly the mirror's ratio of the draws (false without a mirror). */
  drawMirror(): boolean {
    const ratio = this.#entry.mirror?.ratio ?? 0;
    if (ratio <= 0) return false;
    if (ratio >= 100) return true;
    const weights = this.#mirrorWeights;
    weights[0] = 100 - ratio;
    weights[1] = ratio;
    return this.#mirrorDraw.draw(weights) === 1;
  }

  /** Whether version `version` exists and has a Ready instance (for `X-Eas-Version`). */
  pinnedVersionState(version: number): PinnedVersionState {
    if (this.#byVersion.has(version) && this.#entry.state !== "stopped") return "ready";
    const latest = this.#entry.latestVersion ?? 0;
    return latest > 0 && version > latest ? "unknown" : "not-ready";
  }

  /** Whether a request of `lane` can still be sent somewhere (a pinned version may have lost its last instance). */
  laneRoutable(lane: Lane): boolean {
    return lane > 0 ? this.#entry.state !== "stopped" && this.#byVersion.has(lane) : this.#routable;
  }

  /**
   * Route selection: the instance a request of `lane` goes to next, or undefined when every instance of
   * the lane is at its concurrency limit (or there is none). Least outstanding requests, ties in turn,
   * ejected instances last; `exclude` is an instance that just failed. The one place an instance is
   * chosen, for requests, retries and the queues alike.
   */
  pick(lane: Lane, now: number, exclude?: Upstream): Upstream | undefined {
    return pickLeastOutstanding(this.#instancesOf(lane), this.#entry.maxConcurrency, now, this.#rotation++, exclude);
  }

  /**
   * Route selection for a tunnel (WebSocket): balanced like a request, but it holds no concurrency
   * slot (tunnels are long-lived), so it is undefined only when the lane has no instance.
   */
  pickForTunnel(lane: Lane, now: number): Upstream | undefined {
    return this.laneRoutable(lane) ? pickLeastOutstanding(this.#instancesOf(lane), 0, now, this.#rotation++) : undefined;
  }

  /**
   * The lane to retry a request of `lane` in after `failed` did not take it: the same lane when it has another
   * instance; for a request that pinned no version, the other side when it has one; undefined when there is none.
   */
  retryLane(lane: Lane, failed: Upstream): Lane | undefined {
    if (this.#instancesOf(lane).some((candidate) => candidate !== failed)) return lane;
    if (lane > 0) return undefined;
    const other = lane === CANARY_LANE ? STABLE_LANE : CANARY_LANE;
    const others = other === CANARY_LANE ? (this.#canaryWeight > 0 ? this.#canary : NO_UPSTREAMS) : this.#stable;
    return others.some((candidate) => candidate !== failed) ? other : undefined;
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
    const queued = this.queued;
    if (instances.length === 0 && queued === 0) return undefined;
    return { service: this.name, queued, instances };
  }

  snapshot(now: number): ServiceRoutingSnapshot {
    return {
      queued: this.queued,
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

  /**
   * The instances of a lane. A lane left without instances since its requests were admitted falls back to the
   * other side: the canary's requests go to the stable version once the canary is aborted or promoted (never
   * the reverse onto a canary of weight 0); a pinned version has no fallback.
   */
  #instancesOf(lane: Lane): readonly Upstream[] {
    if (lane === STABLE_LANE) {
      return this.#stable.length > 0 || this.#canaryWeight === 0 ? this.#stable : this.#canary;
    }
    if (lane === CANARY_LANE) return this.#canary.length > 0 && this.#canaryWeight > 0 ? this.#canary : this.#stable;
    return this.#byVersion.get(lane) ?? NO_UPSTREAMS;
  }

  /** Diffs the instances by id: kept ones stay as they are, new ones are opened, removed ones drain; then splits them into lanes. */
  #syncUpstreams(entry: RouteEntry): void {
    const previous = new Map<string, Upstream>();
    for (const upstream of this.#upstreams) previous.set(upstream.id, upstream);
    const next: Upstream[] = [];
    for (const instance of entry.instances) {
      const kept = previous.get(instance.id);
      if (kept && kept.endpoint === instance.endpoint && kept.version === instance.version) {
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
    this.#splitLanes(entry, next);
    this.#routable = entry.state !== "stopped" && (this.#stable.length > 0 || (this.#canaryWeight > 0 && this.#canary.length > 0));
  }

  #splitLanes(entry: RouteEntry, upstreams: Upstream[]): void {
    const canary = entry.canary;
    const withdrawn = entry.withdrawn ?? [];
    const byVersion = new Map<number, Upstream[]>();
    for (const upstream of upstreams) {
      const same = byVersion.get(upstream.version);
      if (same) same.push(upstream);
      else byVersion.set(upstream.version, [upstream]);
    }
    this.#byVersion = byVersion;
    this.#canaryWeight = canary ? Math.min(100, Math.max(0, canary.weight)) : 0;
    if (!canary && withdrawn.length === 0) {
      // The usual case: every instance is stable.
      this.#stable = upstreams;
      this.#canary = NO_UPSTREAMS;
      return;
    }
    this.#canary = canary ? (byVersion.get(canary.version) ?? NO_UPSTREAMS) : NO_UPSTREAMS;
    this.#stable = upstreams.filter((upstream) => upstream.version !== canary?.version && !withdrawn.includes(upstream.version));
  }
}

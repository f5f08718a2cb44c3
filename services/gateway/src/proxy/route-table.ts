/** One Ready instance of a service, as the gateway routes to it. */
export interface RouteInstance {
  /** Instance id, unique within the cluster; named in the `X-Eas-Instance` response header. */
  id: string;
  /** `host:port` the instance listens on, e.g. `127.0.0.1:8000`. */
  endpoint: string;
  /** Service version the instance runs. */
  version: number;
}

/** An async service's queue as the gateway sees it: requests are queued, not sent (docs/async.md). */
export interface AsyncRoute {
  /** Largest request body accepted, in bytes (the service's `queue.max_payload_size_kb`). */
  maxPayloadBytes: number;
  /** Requests the queue holds at most, for the 450's message. */
  maxLength: number;
  /** How long results are kept, for the 404's message. */
  resultRetentionSeconds: number;
}

/**
 * Lifecycle of a service as far as routing cares: `running` with a Ready instance; otherwise why it has
 * none: `stopped` (eas stop), `scaled-to-zero` (it wants 0 instances), `waiting` (an instance cannot be
 * placed: `stateReason` is the scheduler's reason), `starting` (instances on their way up).
 */
export type RouteState = "running" | "stopped" | "scaled-to-zero" | "waiting" | "starting";

/** The words a 503 uses for a service without a Ready instance: `scaled to zero`, `stopped`, the placement reason... */
export function unavailableReason(entry: Pick<RouteEntry, "state" | "stateReason">): string {
  switch (entry.state) {
    case "scaled-to-zero":
      return "scaled to zero";
    case "waiting":
      return `cannot be placed: ${entry.stateReason}`;
    default:
      return entry.state;
  }
}

/** Everything the gateway needs to route one service. */
export interface RouteEntry {
  service: string;
  /**
   * SHA-256 (lowercase hex) of the secret callers present in `Authorization` (bare or with a `Bearer `
   * prefix): the gateway never holds the token itself (ADR 0027).
   */
  tokenSha256: string;
  /** Request timeout in ms (EAS `rpc.keepalive`): time to the response headers, and the longest silence while the body streams. 0 disables it. */
  keepaliveMs: number;
  /** In-flight requests per instance; 0 or less means unlimited. */
  maxConcurrency: number;
  /** Requests allowed to wait per service once every instance is at `maxConcurrency`; beyond it the gateway answers 450. */
  maxQueueSize: number;
  /** Requests per second per service; 0 means unlimited. Beyond it the gateway answers 429. */
  rateLimit: number;
  /** Ready instances only. */
  instances: RouteInstance[];
  state: RouteState;
  /** For `waiting`: the scheduler's reason, e.g. "0/2 nodes: 2 insufficient cpu"; "" otherwise. */
  stateReason: string;
  /** Present for an async service: requests go to its queue, whether or not an instance is Ready. */
  async?: AsyncRoute;
  /**
   * The service may be scaled to zero and woken by a request (an autoscaling policy with min 0): while it is
   * `scaled-to-zero` or `starting`, requests are held until an instance is Ready instead of answered 503
   * (`cold-start.ts`). Absent: false.
   */
  scaleFromZero?: boolean;
}

/** What the proxy reads routes from: {@link LiveRouteTable}, which `routing/route-sync.ts` keeps in step with the log. */
export interface RouteTable {
  get(service: string): RouteEntry | undefined;
  /** Every entry the table holds now. */
  entries(): Iterable<RouteEntry>;
  /** Calls `listener` with the service name after its entry changed (added, replaced or removed). Returns an unsubscribe function. */
  onChange(listener: (service: string) => void): () => void;
}

/**
 * The gateway's route table, in memory: in the gateway process `routing/route-sync.ts` writes each
 * change of the `routes` projection into it as the event is applied; tests and benchmarks fill it by hand.
 */
export class LiveRouteTable implements RouteTable {
  readonly #entries = new Map<string, RouteEntry>();
  readonly #listeners = new Set<(service: string) => void>();

  constructor(entries: Iterable<RouteEntry> = []) {
    for (const entry of entries) this.#entries.set(entry.service, entry);
  }

  get(service: string): RouteEntry | undefined {
    return this.#entries.get(service);
  }

  entries(): Iterable<RouteEntry> {
    return this.#entries.values();
  }

  /** Adds or replaces the entry of `entry.service` and notifies listeners. */
  set(entry: RouteEntry): void {
    this.#entries.set(entry.service, entry);
    this.#notify(entry.service);
  }

  /** Applies `change` to a copy of the current entry of `service` and stores it; throws when the service is unknown. */
  update(service: string, change: (entry: RouteEntry) => RouteEntry): void {
    const current = this.#entries.get(service);
    if (!current) throw new UnknownRouteError(service);
    this.set(change({ ...current, instances: [...current.instances] }));
  }

  /** Removes the entry of `service`; returns whether there was one. */
  delete(service: string): boolean {
    const existed = this.#entries.delete(service);
    if (existed) this.#notify(service);
    return existed;
  }

  onChange(listener: (service: string) => void): () => void {
    this.#listeners.add(listener);
    return () => {
      this.#listeners.delete(listener);
    };
  }

  #notify(service: string): void {
    for (const listener of [...this.#listeners]) listener(service);
  }
}

/** Thrown by {@link LiveRouteTable.update} for a service it does not hold. */
export class UnknownRouteError extends Error {
  override readonly name = "UnknownRouteError";
  constructor(readonly service: string) {
    super(`no route for service "${service}"`);
  }
}

import type { Exchange, ExchangeRoute } from "./exchange.js";

/** Scale from zero at the gateway: how many requests may wait for a first instance, how long, and who hears of them. */
export interface ColdStartOptions {
  /** Requests held per service while it has no Ready instance; past it a 503 with `Retry-After`. Default 100. */
  maxHeldRequests?: number;
  /** Longest wait of a held request for a Ready instance; then a 503 with `Retry-After`. Default 30 s. */
  maxWaitMs?: number;
  /**
   * Called when a request is held: at once for the first one, then at most once a second per service while
   * requests keep arriving (the app publishes the autoscaler's wake message).
   */
  onHold?: (service: string, held: number) => void;
}

/**
 * Holds requests for a service at zero instances until its first instance is Ready, bounded in count and in
 * wait: a held request waits in the service's queue (so the dispatcher sends it the moment the route gets an
 * instance, like any queued request), with a hold timer instead of its request timeout, which starts when it
 * is sent. The autoscaler is told at once through `onHold`.
 */
export class ColdStart {
  readonly #maxHeld: number;
  readonly #maxWaitMs: number;
  readonly #onHold: ((service: string, held: number) => void) | undefined;
  readonly #retryAfter: string;
  readonly #lastToldMs = new Map<string, number>();

  constructor(options: ColdStartOptions, retryAfter: string) {
    this.#maxHeld = options.maxHeldRequests ?? 100;
    this.#maxWaitMs = options.maxWaitMs ?? 30_000;
    this.#onHold = options.onHold;
    this.#retryAfter = retryAfter;
  }

  /** Whether one more request may be held for `route` (false: answer it 503 now). */
  hasRoom(route: ExchangeRoute): boolean {
    return route.queue.size < this.#maxHeld;
  }

  /** The answer once the hold limit is reached. */
  fullMessage(route: ExchangeRoute): string {
    return `service ${route.name} is scaling up from zero and already holds ${this.#maxHeld} requests; retry shortly`;
  }

  /** Holds `exchange` in its route's queue and tells the autoscaler. */
  hold(exchange: Exchange, nowMs: number): void {
    const route = exchange.route;
    exchange.holdIn(route.queue, this.#maxHeld, this.#maxWaitMs, this.#retryAfter);
    const last = this.#lastToldMs.get(route.name);
    if (last === undefined || nowMs - last >= 1000) {
      this.#lastToldMs.set(route.name, nowMs);
      this.#onHold?.(route.name, route.queue.size);
    }
  }

  /** The route got an instance, or was stopped or deleted: the next hold tells the autoscaler again at once. */
  forget(service: string): void {
    this.#lastToldMs.delete(service);
  }

  get retryAfter(): string {
    return this.#retryAfter;
  }
}

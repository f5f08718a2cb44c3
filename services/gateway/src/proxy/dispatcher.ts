import { GatewayErrorCode } from "./errors.js";
import type { Exchange, ExchangeOwner, ExchangeRoute } from "./exchange.js";
import type { GatewayLogger, GatewaySettings } from "./gateway-options.js";
import type { InFlight } from "./in-flight.js";
import { unavailableReason } from "./route-table.js";
import type { RequestObservation } from "./observation.js";
import type { Upstream } from "./upstream.js";

/**
 * Moves admitted exchanges to instances: sends one at once when its route picked an instance,
 * queues it otherwise, dispatches the queue as slots free up or the route changes, retries a
 * request that never reached its instance once elsewhere, and accounts for every exchange's end.
 * Sending goes through one method ({@link dispatch}), the place for anything that rides along with
 * a request to its instance (mirroring a copy elsewhere).
 */
export class RequestDispatcher implements ExchangeOwner {
  readonly logger: GatewayLogger;
  readonly #now: () => number;
  readonly #ejectMs: number;
  readonly #retryAfter: string;
  readonly #inFlight: InFlight;
  readonly #observation: RequestObservation;

  constructor(settings: GatewaySettings, inFlight: InFlight, observation: RequestObservation) {
    this.logger = settings.logger;
    this.#now = settings.now;
    this.#ejectMs = settings.ejectMs;
    this.#retryAfter = settings.retryAfter;
    this.#inFlight = inFlight;
    this.#observation = observation;
  }

  get closing(): boolean {
    return this.#inFlight.closing;
  }

  /** An admitted exchange: sent to `upstream`, or queued when the route had no free instance (the caller checked the queue has room). */
  admit(exchange: Exchange, upstream: Upstream | undefined): void {
    this.#inFlight.begin();
    if (upstream) this.dispatch(exchange, upstream);
    else exchange.waitIn(exchange.route.queue);
  }

  /** An admitted exchange for a service at zero instances: `hold` keeps it until the first instance is Ready. */
  admitHeld(exchange: Exchange, hold: (exchange: Exchange) => void): void {
    this.#inFlight.begin();
    hold(exchange);
  }

  /** Sends `exchange` to `upstream`. */
  dispatch(exchange: Exchange, upstream: Upstream): void {
    exchange.send(upstream);
  }

  /** Dispatches queued requests while instances have free slots; fails them when the service cannot be routed any more. */
  pump(route: ExchangeRoute): void {
    const queue = route.queue;
    if (queue.size === 0) return;
    if (route.removed) {
      this.failQueued(route, GatewayErrorCode.ServiceNotFound, `service ${route.name} was deleted`);
      return;
    }
    // A service at zero scaling up: its held requests wait for the first Ready instance (or their hold timer).
    if (route.holdsRequests) return;
    if (!route.routable) {
      this.failQueued(
        route,
        GatewayErrorCode.ServiceUnavailable,
        `service ${route.name} has no ready instance (${unavailableReason(route.entry)})`,
        false,
        ["retry-after", this.#retryAfter],
      );
      return;
    }
    const now = this.#now();
    while (queue.size > 0) {
      const upstream = route.pick(now);
      if (!upstream) return;
      this.dispatch(queue.shift() as Exchange, upstream);
    }
  }

  /** Answers every request waiting in `route`'s queue with an error. */
  failQueued(route: ExchangeRoute, code: GatewayErrorCode, message: string, closeConnection = false, headers?: readonly string[]): void {
    for (const waiting of route.queue.drain()) waiting.fail(code, message, closeConnection, headers);
  }

  released(exchange: Exchange, upstream: Upstream): void {
    const route = exchange.route;
    if (route.finished(upstream) && route.queue.size > 0) this.pump(route);
  }

  /** Skips `upstream` for `ejectMs` after its connection failed. */
  eject(upstream: Upstream): void {
    upstream.eject(this.#now() + this.#ejectMs);
  }

  /** Second (and last) attempt for a request whose first one never reached its instance. */
  retry(exchange: Exchange, failed: Upstream): void {
    this.eject(failed);
    const route = exchange.route;
    if (exchange.answered) return;
    if (!route.routable || route.removed) {
      exchange.fail(
        GatewayErrorCode.ServiceUnavailable,
        `service ${route.name} has no ready instance (${unavailableReason(route.entry)})`,
        false,
        ["retry-after", this.#retryAfter],
      );
      return;
    }
    const upstream = route.pick(this.#now(), failed);
    if (upstream) {
      this.dispatch(exchange, upstream);
      return;
    }
    if (!route.hasOtherThan(failed)) {
      exchange.fail(GatewayErrorCode.BadGateway, `instance ${failed.id} is unreachable and no other instance is ready`);
      return;
    }
    // Every other instance is busy: wait first in line, ahead of requests that have not been tried yet.
    exchange.waitIn(route.queue, true);
  }

  finished(exchange: Exchange): void {
    this.#observation.answered(
      exchange.route.name,
      exchange.status,
      exchange.start,
      exchange.upstream?.id ?? "",
      exchange.bytesIn,
      exchange.bytesOut,
    );
    this.#inFlight.end();
  }
}

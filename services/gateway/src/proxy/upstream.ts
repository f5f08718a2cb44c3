import { Pool, type Dispatcher } from "undici";
import type { BalancedInstance } from "./balancer.js";
import type { GatewayLogger } from "./gateway-options.js";
import type { RouteInstance } from "./route-table.js";

/**
 * One Ready instance of a service as the proxy sends to it: its connection pool (opened when the
 * instance enters the route, closed when it leaves), its count of requests in flight, and its
 * ejection after a failed connection. Only its own methods change them; the balancer reads them.
 */
export class Upstream implements BalancedInstance {
  readonly id: string;
  readonly endpoint: string;
  /** The service version the instance runs. */
  readonly version: number;
  readonly #pool: Pool;
  #outstanding = 0;
  #ejectedUntil = 0;
  #retired = false;

  constructor(instance: RouteInstance) {
    this.id = instance.id;
    this.endpoint = instance.endpoint;
    this.version = instance.version;
    this.#pool = new Pool(`http://${instance.endpoint}`, {
      // The gateway bounds concurrency per instance itself, so the pool may open as many connections as it is given requests.
      connections: null,
      pipelining: 1,
      keepAliveTimeout: 4_000,
      headersTimeout: 0,
      bodyTimeout: 0,
    });
  }

  /** Requests sent and not finished yet. */
  get outstanding(): number {
    return this.#outstanding;
  }

  /** Time (the gateway's clock) until which the balancer skips the instance; 0 when healthy. */
  get ejectedUntil(): number {
    return this.#ejectedUntil;
  }

  /** Left the route: it gets nothing new, and its requests in flight finish. */
  get retired(): boolean {
    return this.#retired;
  }

  /** Sends one request; errors (closed pool, a header undici refuses) come back through `handler.onError`. */
  dispatch(options: Dispatcher.DispatchOptions, handler: Dispatcher.DispatchHandler): void {
    this.#outstanding++;
    this.#pool.dispatch(options, handler);
  }

  /** A request {@link dispatch} sent has ended (completed, failed or aborted). */
  finished(): void {
    this.#outstanding--;
  }

  /** Skips the instance until `until` while another one is healthy. */
  eject(until: number): void {
    this.#ejectedUntil = until;
  }

  /** Takes the instance out of its route: nothing new is sent, in-flight requests finish (`pool.close` waits for them). */
  retire(logger: GatewayLogger): void {
    this.#retired = true;
    this.#pool.close().catch((err: unknown) => {
      logger.debug({ instance: this.id, err: String(err) }, "closing instance pool failed");
    });
  }

  /** Cuts every connection (gateway shutdown). */
  destroy(): Promise<void> {
    return this.#pool.destroy().catch(() => undefined);
  }
}

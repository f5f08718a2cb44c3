import type { GatewayLogger } from "./gateway-options.js";
import type { RouteTable } from "./route-table.js";
import { ServiceRoute, type ServiceLoadSnapshot } from "./service-route.js";

/**
 * Every service of the route table as a {@link ServiceRoute}, kept in step with the table: a route
 * (and its instances' connection pools) is built when the service appears, updated in place when it
 * changes, and removed when it goes, so a request only looks the service up. The only writer of the
 * map; after each change it calls `onChange` with the route (removed ones included), for the
 * dispatcher to re-evaluate the requests waiting there.
 */
export class ServiceRoutes<Waiting> {
  readonly #table: RouteTable;
  readonly #now: () => number;
  readonly #logger: GatewayLogger;
  readonly #onChange: (route: ServiceRoute<Waiting>) => void;
  readonly #routes = new Map<string, ServiceRoute<Waiting>>();
  readonly #unsubscribe: () => void;

  constructor(table: RouteTable, now: () => number, logger: GatewayLogger, onChange: (route: ServiceRoute<Waiting>) => void) {
    this.#table = table;
    this.#now = now;
    this.#logger = logger;
    this.#onChange = onChange;
    this.#unsubscribe = table.onChange((service) => this.#apply(service));
    for (const entry of table.entries()) this.#routes.set(entry.service, new ServiceRoute(entry, now(), logger));
  }

  /** The route of `service`, undefined when the table has none. */
  get(service: string): ServiceRoute<Waiting> | undefined {
    return this.#routes.get(service);
  }

  /** Services with requests queued or in flight now. */
  load(): ServiceLoadSnapshot[] {
    const loads: ServiceLoadSnapshot[] = [];
    for (const route of this.#routes.values()) {
      const load = route.load();
      if (load) loads.push(load);
    }
    return loads;
  }

  /** Stops following the table and hands over every route, forgetting them (gateway shutdown). */
  close(): ServiceRoute<Waiting>[] {
    this.#unsubscribe();
    const routes = [...this.#routes.values()];
    this.#routes.clear();
    return routes;
  }

  /** Re-reads the entry of `service` and updates its route in place. */
  #apply(service: string): void {
    const entry = this.#table.get(service);
    let route = this.#routes.get(service);
    if (!entry) {
      if (!route) return;
      this.#routes.delete(service);
      route.remove();
    } else if (route) {
      route.update(entry, this.#now());
    } else {
      route = new ServiceRoute(entry, this.#now(), this.#logger);
      this.#routes.set(service, route);
    }
    this.#onChange(route);
  }
}

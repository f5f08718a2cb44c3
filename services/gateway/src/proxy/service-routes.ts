import type { GatewayLogger } from "./gateway-options.js";
import { GroupRoute } from "./group-route.js";
import type { RouteTable } from "./route-table.js";
import { ServiceRoute, type ServiceLoadSnapshot } from "./service-route.js";

/**
 * Every service of the route table as a {@link ServiceRoute}, kept in step with the table: a route
 * (and its instances' connection pools) is built when the service appears, updated in place when it
 * changes, and removed when it goes, so a request only looks the service up. The only writer of the
 * map; after each change it calls `onChange` with the route (removed ones included), for the
 * dispatcher to re-evaluate the requests waiting there. Service groups are kept the same way, as
 * {@link GroupRoute}s.
 */
export class ServiceRoutes<Waiting> {
  readonly #table: RouteTable;
  readonly #now: () => number;
  readonly #logger: GatewayLogger;
  readonly #onChange: (route: ServiceRoute<Waiting>) => void;
  readonly #routes = new Map<string, ServiceRoute<Waiting>>();
  readonly #groups = new Map<string, GroupRoute>();
  readonly #unsubscribe: () => void;

  constructor(table: RouteTable, now: () => number, logger: GatewayLogger, onChange: (route: ServiceRoute<Waiting>) => void) {
    this.#table = table;
    this.#now = now;
    this.#logger = logger;
    this.#onChange = onChange;
    this.#unsubscribe = table.onChange((service) => this.#apply(service));
    for (const entry of table.entries()) this.#routes.set(entry.service, new ServiceRoute(entry, now(), logger));
    for (const entry of table.groups()) this.#groups.set(entry.group, new GroupRoute(entry));
  }

  /** The service group `name`, undefined when the table has none. */
  group(name: string): GroupRoute | undefined {
    return this.#groups.get(name);
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

  /** Re-reads the entries of `name` (a service, a group) and updates their routes in place. */
  #apply(name: string): void {
    this.#applyGroup(name);
    this.#applyService(name);
  }

  #applyGroup(name: string): void {
    const entry = this.#table.group(name);
    const group = this.#groups.get(name);
    if (!entry) this.#groups.delete(name);
    else if (group) group.update(entry);
    else this.#groups.set(name, new GroupRoute(entry));
  }

  #applyService(service: string): void {
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

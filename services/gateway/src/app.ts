import { decodeEvent } from "@eas/events";
import { createServiceHost, readConfig, serviceCatalogProjection } from "@eas/service-kit";
import { Histogram } from "prom-client";
import { gatewayConfigSpec } from "./config.js";
import { createGatewayServer, StaticRouteTable } from "./proxy/index.js";
import { routesProjection, serviceOf, toRouteEntry } from "./routing/routes-projection.js";
import type { Telemetry } from "@eas/telemetry";

/** Wires the gateway: everything that loads gRPC or HTTP code lives here, imported after telemetry started. */
export async function run(telemetry: Telemetry): Promise<void> {
  const config = readConfig(gatewayConfigSpec);
  const host = await createServiceHost({ name: "gateway", telemetry, config });
  host.shutdown.installSignalHandlers();
  await host.runProjection(serviceCatalogProjection, { describe: (catalog) => catalog });

  // The proxy reads a mutable table; the projection keeps it in step with the log, event by event.
  const table = new StaticRouteTable();
  const sync = (state: typeof routesProjection extends { initialState(): infer S } ? S : never, service: string) => {
    const routed = state[service];
    if (routed) table.set(toRouteEntry(service, routed));
    else table.delete(service);
  };
  const routes = await host.runProjection(routesProjection, {
    checkpoint: false,
    onEvent: (recorded, state) => {
      const e = decodeEvent(recorded);
      const service = e && serviceOf(e);
      if (service) sync(state, service);
    },
    describe: (state) =>
      Object.fromEntries(Object.entries(state).map(([name, r]) => [name, { stopped: r.stopped, ready: Object.keys(r.ready).length }])),
  });
  for (const service of Object.keys(routes.state)) sync(routes.state, service);

  const latency = new Histogram({
    name: "eas_gateway_request_duration_seconds",
    help: "Requests through the gateway by service and status code",
    labelNames: ["route_service", "code"],
    buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
    registers: [host.metrics],
  });
  const gateway = createGatewayServer({
    routes: table,
    logger: host.logger,
    maxBodyBytes: config.maxBodyBytes,
    metrics: { observe: (service, code, ms) => latency.observe({ route_service: service, code: String(code) }, ms / 1000) },
  });
  const { port } = await gateway.listen(config.port, config.bindHost);
  host.shutdown.onShutdown("gateway-http", () => gateway.close(), "stop-accepting");
  host.logger.info({ port }, "gateway data plane listening");
  await host.listen();
}

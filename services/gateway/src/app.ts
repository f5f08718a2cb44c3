import { wakeSubject } from "@eas/contracts";
import { gatewaySamples } from "@eas/metrics";
import { createServiceHost, readConfig } from "@eas/service-kit";
import { Histogram } from "prom-client";
import { createAsyncRequests } from "./async/async-requests.js";
import { gatewayConfigSpec } from "./config.js";
import { createGatewayServer, LiveRouteTable } from "./proxy/index.js";
import { traceUpstreamRequests } from "./proxy/upstream-tracing.js";
import { routeSyncOnEvent, syncAllRoutes } from "./routing/route-sync.js";
import { routesProjection, toRouteEntry } from "./routing/routes-projection.js";
import { GatewaySampler } from "./sampling/gateway-sampler.js";
import type { Telemetry } from "@eas/telemetry";

/** Wires the gateway: everything that loads gRPC or HTTP code lives here, imported after telemetry started. */
export async function run(telemetry: Telemetry): Promise<void> {
  const config = readConfig(gatewayConfigSpec);
  const host = await createServiceHost({ name: "gateway", telemetry, config, noAsyncTraces: true });
  host.shutdown.installSignalHandlers();

  // The proxy reads a mutable table; the projection keeps it in step with the log, event by event.
  const table = new LiveRouteTable();
  const routes = await host.runProjection(routesProjection, {
    checkpoint: false,
    onEvent: routeSyncOnEvent(table),
    describe: (state) =>
      Object.fromEntries(
        Object.entries(state).map(([name, r]) => [name, { stopped: r.stopped, ready: toRouteEntry(name, r).instances.length }]),
      ),
  });
  syncAllRoutes(table, routes.state);

  const latency = new Histogram({
    name: "eas_gateway_request_duration_seconds",
    help: "Requests through the gateway by service and status code",
    labelNames: ["route_service", "code"],
    buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
    registers: [host.metrics],
  });
  // Upstream spans and the traceparent instances join, only where spans go somewhere (they cost per request).
  if (telemetry.spanExport !== "none") host.shutdown.onShutdown("upstream tracing", traceUpstreamRequests(), "close-connections");
  // Per-second samples for the monitor (eas.metrics.gateway.<service>), besides the Prometheus histogram.
  const sampling: { sampler?: GatewaySampler } = {};
  const gateway = createGatewayServer({
    routes: table,
    logger: host.logger,
    maxBodyBytes: config.maxBodyBytes,
    // Async services: requests are published to their JetStream queue, results read from their KV bucket.
    asyncRequests: await createAsyncRequests({ nats: host.bus, logger: host.logger }),
    // A request for a service at zero is held, and the autoscaler told at once (not on its next tick).
    coldStart: {
      maxHeldRequests: config.holdMaxRequests,
      maxWaitMs: config.holdMaxWaitMs,
      onHold: (service, held) => host.bus.publish(wakeSubject.with(service), { service, held, at: new Date().toISOString() }),
    },
    metrics: {
      observe: (service, code, ms, instanceId = "", bytesIn = 0, bytesOut = 0) => {
        latency.observe({ route_service: service, code: String(code) }, ms / 1000);
        sampling.sampler?.record(service, instanceId, code, ms, bytesIn, bytesOut);
      },
    },
  });
  if (config.sampling) {
    const sampler = new GatewaySampler({
      source: `gateway-${host.instanceId}`,
      publish: (sample) => host.bus.publish(gatewaySamples.with(sample.service), sample),
      load: () => gateway.load(),
      versionOf: (service, instanceId) => table.get(service)?.instances.find((instance) => instance.id === instanceId)?.version ?? 0,
    });
    sampling.sampler = sampler;
    sampler.start();
    host.shutdown.onShutdown("sampler", () => sampler.stop(), "close-connections");
  }
  const { port } = await gateway.listen(config.port, config.bindHost);
  host.shutdown.onShutdown("gateway-http", () => gateway.close(), "stop-accepting");
  host.logger.info({ port }, "gateway data plane listening");
  await host.listen();
}

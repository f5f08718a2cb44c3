import { SchedulerService } from "@eas/proto";
import { createServiceHost, readConfig } from "@eas/service-kit";
import type { Telemetry } from "@eas/telemetry";
import { createSchedulerApi } from "./api/scheduler-api.js";
import { schedulerConfigSpec } from "./config.js";
import { startLostNodeMonitor } from "./heartbeats/lost-nodes.js";
import { subscribeToHeartbeats } from "./heartbeats/subscriber.js";
import { createHeartbeatTracker } from "./heartbeats/tracker.js";
import { clusterProjection, describeCluster } from "./projections/cluster.js";

/** Wires the scheduler: everything that loads gRPC or HTTP code lives here, imported after telemetry started. */
export async function run(telemetry: Telemetry): Promise<void> {
  const config = readConfig(schedulerConfigSpec);
  const now = (): number => Date.now();
  const host = await createServiceHost({ name: "scheduler", telemetry, config });
  host.shutdown.installSignalHandlers();
  const source = `eas/scheduler/${host.instanceId}`;

  // Subscribe before the replay so that no heartbeat sent meanwhile is missed; the grace period of
  // nodes not heard from yet starts now (a restart must not declare every node lost).
  const heartbeats = createHeartbeatTracker({ startedAt: now() });
  const heartbeatSubscription = subscribeToHeartbeats({ bus: host.bus, tracker: heartbeats, now, logger: host.logger });
  host.shutdown.onShutdown("heartbeats", () => heartbeatSubscription.drain(), "drain");

  const cluster = await host.runProjection(clusterProjection, {
    describe: (state) => describeCluster(state, heartbeats.lastSeen),
  });

  host.addGrpcService(
    SchedulerService,
    createSchedulerApi({ store: host.store, cluster, heartbeats, logger: host.logger, now, source, fleetGraceMs: config.fleetGraceMs }),
  );
  await host.listen();

  // The monitor decides nothing before the projection has caught up (it checks on every tick).
  const monitor = startLostNodeMonitor({
    store: host.store,
    cluster,
    heartbeats,
    heartbeatTimeoutMs: config.heartbeatTimeoutMs,
    intervalMs: config.lostNodeCheckIntervalMs,
    now,
    logger: host.logger.child({ component: "lost-nodes" }),
    source,
  });
  host.shutdown.onShutdown("lost-node monitor", () => monitor.stop(), "stop-accepting");
}

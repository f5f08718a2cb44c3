import { join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { credentials } from "@grpc/grpc-js";
import { instanceSamples } from "@eas/metrics";
import { AgentService, SchedulerClient } from "@eas/proto";
import { createServiceHost, readConfig } from "@eas/service-kit";
import type { Telemetry } from "@eas/telemetry";
import { createAgentApi } from "./api/agent-api.js";
import { agentConfigSpec } from "./config.js";
import { stopInstancesFailedElsewhere } from "./instances/failed-elsewhere.js";
import { InstanceSupervisor } from "./instances/supervisor.js";
import { startInstanceMetrics } from "./node/instance-metrics.js";
import { nodeRegistration, startNodePresence } from "./node/presence.js";
import { loadRatesTable, nodeRates } from "./node/rates.js";
import { followNodeReclaim, watchReclaimNotice } from "./node/reclaim-notice.js";
import { ProcessDriver } from "./runtime/index.js";
import { startInstanceSampler } from "./sampling/instance-sampler.js";
import { createStorageFetcher } from "./storage/index.js";

const repoRoot = resolve(fileURLToPath(new URL(".", import.meta.url)), "../../..");

/** Wires the agent: registers the node, heartbeats, runs instances. */
export async function run(telemetry: Telemetry): Promise<void> {
  const config = readConfig(agentConfigSpec);
  const rates = nodeRates(config, loadRatesTable(config.ratesFile));
  const host = await createServiceHost({ name: "agent", telemetry, config, instanceId: config.nodeId });
  host.shutdown.installSignalHandlers();

  const nodeDir = resolve(config.dataDir, "agents", config.nodeId);
  const storage = createStorageFetcher({
    cacheDir: join(nodeDir, "cache"),
    objectStore: host.bus.objectStore(),
    eviction: {
      maxBytes: config.cacheMaxBytes,
      instancesDir: join(nodeDir, "instances"),
      onPass: (report) => {
        const summary = { maxBytes: report.maxBytes, totalBytes: report.totalBytes, remainingBytes: report.remainingBytes };
        if (report.evicted.length > 0) {
          host.logger.info({ ...summary, evicted: report.evicted.map((entry) => entry.path) }, "evicted unused cache entries");
        }
        if (report.remainingBytes > report.maxBytes) host.logger.warn(summary, "the cache is over its budget with entries in use");
      },
      onError: (error) => host.logger.warn({ err: error }, "cache eviction failed; the next instance start tries again"),
    },
  });
  const supervisor = new InstanceSupervisor({
    nodeId: config.nodeId,
    store: host.store,
    driver: new ProcessDriver({ advertiseHost: config.advertiseHost }),
    storage,
    nodeDir,
    repoRoot,
    logger: host.logger,
    source: `eas/agent/${config.nodeId}`,
    ...(config.otlpEndpoint ? { extraEnv: { OTEL_EXPORTER_OTLP_ENDPOINT: config.otlpEndpoint } } : {}),
  });
  await supervisor.recoverLeftovers();
  // After the recovery: the instances of the previous run that are gone no longer hold their entries. In the background.
  void storage.evictUnused();
  host.shutdown.onShutdown("instances", () => supervisor.stopAll(10_000), "drain");

  host.addGrpcService(AgentService, createAgentApi(supervisor, host.logger));
  const { grpcPort } = await host.listen();

  const scheduler = new SchedulerClient(config.schedulerAddress, credentials.createInsecure());
  const presence = startNodePresence({
    scheduler,
    registration: nodeRegistration(config, `${config.advertiseHost}:${grpcPort}`, rates),
    bus: host.bus,
    instanceCount: () => supervisor.list().length,
    logger: host.logger,
  });
  host.addReadinessCheck("registered with the scheduler", () => presence.isRegistered());

  const failedElsewhere = await stopInstancesFailedElsewhere({ store: host.store, supervisor, logger: host.logger });
  host.shutdown.onShutdown("instance-events", () => failedElsewhere.close(), "stop-accepting");

  // A spot node: the cloud's reclaim notice (a metadata watcher's file, or SIGUSR2) goes to the scheduler;
  // once the log says the node is reclaimed, the machine is gone and the agent stops like on a SIGTERM.
  const reclaimNotice = watchReclaimNotice({
    nodeId: config.nodeId,
    scheduler,
    file: config.reclaimNoticeFile || join(nodeDir, "reclaim-notice.json"),
    signalNoticeMs: config.reclaimSignalNoticeMs,
    logger: host.logger,
  });
  const reclaim = await followNodeReclaim({
    store: host.store,
    nodeId: config.nodeId,
    logger: host.logger,
    onReclaimed: () => {
      host.logger.warn({ nodeId: config.nodeId }, "node reclaimed: the machine is gone, the agent stops");
      presence.stop();
      process.kill(process.pid, "SIGTERM");
    },
  });
  host.shutdown.onShutdown(
    "reclaim",
    async () => {
      reclaimNotice.close();
      await reclaim.close();
    },
    "stop-accepting",
  );

  const stopMetrics = startInstanceMetrics(supervisor, host.metrics);
  // CPU and memory of each instance every second, for the monitor (eas.metrics.instance.<service>.<id>).
  const instanceSampler = startInstanceSampler({
    nodeId: config.nodeId,
    usage: () => supervisor.stats(),
    publish: (sample) => host.bus.publish(instanceSamples.with(sample.service, sample.instanceId), sample),
    onError: (error) => host.logger.warn({ err: error }, "could not measure the instances"),
  });
  host.shutdown.onShutdown("instance-samples", () => instanceSampler.stop(), "stop-accepting");
  host.shutdown.onShutdown(
    "heartbeats",
    () => {
      presence.stop();
      stopMetrics();
      scheduler.close();
    },
    "stop-accepting",
  );
}

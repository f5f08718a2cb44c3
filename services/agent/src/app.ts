import { join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { credentials } from "@grpc/grpc-js";
import { Objm } from "@nats-io/obj";
import { Gauge } from "prom-client";
import { decodeEvent } from "@eas/events";
import { AgentService, SchedulerClient, unaryCall } from "@eas/proto";
import { heartbeatSubject } from "@eas/scheduler";
import { createServiceHost, readConfig, serviceCatalogProjection } from "@eas/service-kit";
import type { Telemetry } from "@eas/telemetry";
import { createAgentApi } from "./api/agent-api.js";
import { agentConfigSpec } from "./config.js";
import { InstanceSupervisor } from "./instances/supervisor.js";
import { ProcessDriver } from "./runtime/index.js";
import { startInstanceSampler } from "./sampling/instance-sampler.js";
import { createStorageFetcher } from "./storage/index.js";

const repoRoot = resolve(fileURLToPath(new URL(".", import.meta.url)), "../../..");

/** Wires the agent: registers the node, heartbeats, runs instances. */
export async function run(telemetry: Telemetry): Promise<void> {
  const config = readConfig(agentConfigSpec);
  const host = await createServiceHost({ name: "agent", telemetry, config, instanceId: config.nodeId });
  host.shutdown.installSignalHandlers();
  await host.runProjection(serviceCatalogProjection, { checkpoint: false, describe: (catalog) => catalog });

  const nodeDir = resolve(config.dataDir, "agents", config.nodeId);
  const storage = createStorageFetcher({
    cacheDir: join(nodeDir, "cache"),
    objectStore: new Objm(host.bus.nc),
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
  await supervisor.reapOrphans();
  // After the reap: the instances of the previous run no longer hold their entries. In the background.
  void storage.evictUnused();
  host.shutdown.onShutdown("instances", () => supervisor.stopAll(10_000), "drain");

  host.addGrpcService(AgentService, createAgentApi(supervisor, host.logger));
  const { grpcPort } = await host.listen();

  // Register with the scheduler (retrying until it answers), then heartbeat every second.
  const scheduler = new SchedulerClient(config.schedulerAddress, credentials.createInsecure());
  let registered = false;
  host.addReadinessCheck("registered with the scheduler", () => registered);
  const registerOnce = () =>
    unaryCall(
      scheduler,
      scheduler.registerNode,
      {
        nodeId: config.nodeId,
        capacity: { cpuMillis: config.cpuMillis, memoryMib: config.memoryMib, gpu: config.gpu, gpuType: config.gpuType, gpuMemoryGib: 0 },
        resourceGroup: config.resourceGroup,
        spot: config.spot,
        pricePerHour: config.pricePerHour,
        agentAddress: `${config.advertiseHost}:${grpcPort}`,
        labels: {},
      },
      5_000,
    );
  const register = async () => {
    for (let attempt = 1; !registered; attempt++) {
      try {
        await registerOnce();
        registered = true;
        host.logger.info({ nodeId: config.nodeId }, "node registered");
      } catch (error) {
        if (attempt % 10 === 1) host.logger.warn({ reason: (error as Error).message }, "scheduler not reachable yet; retrying");
        await new Promise((r) => setTimeout(r, 500));
      }
    }
  };
  void register().then(() => {
    // Register again now and then: a node the scheduler marked Lost (a partition, a long pause)
    // only becomes Ready again through RegisterNode; repeating an identical registration writes nothing.
    reRegister = setInterval(() => {
      registerOnce().catch((error: unknown) => host.logger.warn({ reason: (error as Error).message }, "re-registration failed"));
    }, 10_000);
  });
  let reRegister: NodeJS.Timeout | undefined;

  // An instance someone else declared Failed (its node was marked Lost while this agent lived on)
  // has been replaced elsewhere: stop it here so it does not keep running unrouted.
  const instanceEvents = host.store.subscribeToAll({ afterPosition: await host.store.headPosition(), category: "instance" });
  const watching = (async () => {
    for await (const recorded of instanceEvents) {
      const e = decodeEvent(recorded);
      if (e?.type !== "eas.v1.InstanceFailed" || !supervisor.get(e.data.instanceId)) continue;
      host.logger.warn({ instanceId: e.data.instanceId, reason: e.data.reason }, "instance failed elsewhere; stopping it here");
      supervisor.stop(e.data.instanceId, 5_000).catch((error: unknown) => host.logger.error({ err: error }, "could not stop the instance"));
    }
  })().catch((error: unknown) => host.logger.error({ err: error }, "stopped following instance events"));
  host.shutdown.onShutdown(
    "instance-events",
    async () => {
      await instanceEvents.close();
      await watching;
    },
    "stop-accepting",
  );

  const cpu = new Gauge({
    name: "eas_instance_cpu_percent",
    help: "CPU of an instance's processes, percent of one core",
    labelNames: ["instance", "service"],
    registers: [host.metrics],
  });
  const memory = new Gauge({
    name: "eas_instance_memory_bytes",
    help: "Resident memory of an instance's processes",
    labelNames: ["instance", "service"],
    registers: [host.metrics],
  });
  const beat = setInterval(() => {
    if (!registered) return;
    host.bus.publish(heartbeatSubject.with(config.nodeId), {
      nodeId: config.nodeId,
      at: new Date().toISOString(),
      instances: supervisor.list().length,
    });
  }, 1_000);
  const sample = setInterval(() => {
    void supervisor.stats().then((rows) => {
      cpu.reset();
      memory.reset();
      for (const row of rows) {
        cpu.set({ instance: row.instanceId, service: row.service }, row.cpuPercent);
        memory.set({ instance: row.instanceId, service: row.service }, row.memoryBytes);
      }
    });
  }, 5_000);
  // CPU and memory of each instance every second, for the monitor (eas.metrics.instance.<service>.<id>).
  const instanceSamples = startInstanceSampler({
    nodeId: config.nodeId,
    usage: () => supervisor.stats(),
    publish: (subject, payload) => host.bus.nc.publish(subject, payload),
    onError: (error) => host.logger.warn({ err: error }, "could not measure the instances"),
  });
  host.shutdown.onShutdown("instance-samples", () => instanceSamples.stop(), "stop-accepting");
  host.shutdown.onShutdown(
    "heartbeats",
    () => {
      clearInterval(beat);
      clearInterval(sample);
      clearInterval(reRegister);
      scheduler.close();
    },
    "stop-accepting",
  );
}

import { queueSamples } from "@eas/metrics";
import { AsyncQueueService } from "@eas/proto";
import { createServiceHost, readConfig } from "@eas/service-kit";
import { createAsyncQueueApi, queueStatus } from "./api/async-queue-api.js";
import { BatchFiles } from "./batch/batch-io.js";
import { BatchJobs } from "./batch/batch-jobs.js";
import { asyncQueueConfigSpec } from "./config.js";
import { QueueSampler } from "./metrics/queue-sampler.js";
import { asyncServicesProjection, serviceOfEvent } from "./projections/async-services.js";
import { batchJobsProjection } from "./projections/batch-jobs.js";
import { CallbackWorker } from "./queues/callbacks.js";
import { DeadLetters } from "./queues/dead-letters.js";
import { QueueDispatchers } from "./queues/dispatchers.js";
import { QueueTopology } from "./queues/topology.js";
import type { Telemetry } from "@eas/telemetry";

/** Wires the async-queue: everything that loads gRPC or HTTP code lives here, imported after telemetry started. */
export async function run(telemetry: Telemetry): Promise<void> {
  const config = readConfig(asyncQueueConfigSpec);
  const host = await createServiceHost({ name: "async-queue", telemetry, config, noAsyncTraces: true });
  host.shutdown.installSignalHandlers();
  const clock = Date.now;
  const js = host.bus.jetstream();
  const jsm = await host.bus.jetstreamManager();
  const kvm = host.bus.keyValue();
  const backoff = { baseMs: config.retryBaseMs, maxMs: config.retryMaxMs };

  const topology = new QueueTopology(jsm, kvm, {
    ackWaitMs: config.ackWaitMs,
    deadLetterRetentionMs: config.deadLetterRetentionSeconds * 1000,
    replicas: config.replicas,
  });
  await topology.ensureShared();

  // Each service's dispatcher follows its events once the projection has caught up (a partial replay would
  // create queues of deleted services and send work to instances that are gone).
  const follow: { changed?: (service: string) => void } = {};
  const services = await host.runProjection(asyncServicesProjection, {
    checkpoint: false,
    onEvent: (event) => {
      const service = serviceOfEvent(event);
      if (service) follow.changed?.(service);
    },
    describe: (state) =>
      Object.fromEntries(
        Object.values(state)
          .filter((service) => service.async)
          .map((service) => [service.name, { instances: Object.keys(service.instances).length, stopped: service.stopped }]),
      ),
  });
  const jobs = await host.runProjection(batchJobsProjection, {
    checkpoint: false,
    describe: (state) => Object.fromEntries(Object.values(state).map((job) => [job.jobId, job.status])),
  });

  const dispatchers = new QueueDispatchers({
    js,
    kvm,
    topology,
    settings: { ackWaitMs: config.ackWaitMs, backoff, clock, logger: host.logger, stopGraceMs: config.stopGraceMs },
    logger: host.logger,
    state: () => services.state,
  });
  host.shutdown.onShutdown("dispatchers", () => dispatchers.stop(), "drain");

  const callbacks = new CallbackWorker(
    js,
    { attempts: config.callbackAttempts, timeoutMs: config.callbackTimeoutMs, backoff, concurrency: 32 },
    host.logger,
  );
  host.shutdown.onShutdown("callbacks", () => callbacks.stop(), "drain");

  const files = new BatchFiles(host.bus.objectStore());
  const batches = new BatchJobs({
    store: host.store,
    source: `eas/async-queue/${host.instanceId}`,
    services: () => services.state,
    jobs: () => jobs.state,
    files,
    runner: { js, jsm, kvm, files, window: config.batchWindow, clock, logger: host.logger },
    logger: host.logger,
  });
  host.shutdown.onShutdown("batch jobs", () => batches.stop(), "drain");

  const deadLetters = new DeadLetters(js, jsm, kvm);
  const queues = { jsm, services: () => services.state, dispatchers, deadLetters, clock };
  host.addGrpcService(AsyncQueueService, createAsyncQueueApi({ ...queues, batches, logger: host.logger }));

  // Per-second backlog samples (eas.metrics.queue.<service>), what the autoscaler scales async services on.
  const sampler = new QueueSampler({
    source: `async-queue-${host.instanceId}`,
    services: () => dispatchers.services(),
    status: (service) => queueStatus(queues, service),
    failedAttempts: (service) => dispatchers.get(service)?.stats.failedAttempts ?? 0,
    publish: (sample) => host.bus.publish(queueSamples.with(sample.service), sample),
    registry: host.metrics,
    logger: host.logger,
  });
  host.shutdown.onShutdown("queue sampler", () => sampler.stop(), "stop-accepting");
  host.addDebugEndpoint("queues", () =>
    Object.fromEntries(
      dispatchers.services().map((name) => [name, { ...dispatchers.get(name)?.snapshot(), ...dispatchers.get(name)?.stats }]),
    ),
  );
  await host.listen();

  await Promise.all([services.caughtUp, jobs.caughtUp]);
  follow.changed = (service) => void dispatchers.sync(service);
  await dispatchers.syncAll();
  callbacks.start();
  batches.resumeAll();
  sampler.start();
  host.logger.info({ queues: dispatchers.services().length }, "async-queue dispatching");
}

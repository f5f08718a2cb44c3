import type { JetStreamManager } from "@nats-io/jetstream";
import { asyncQueueLayout } from "@eas/contracts";
import { NotFoundError, ValidationError } from "@eas/decider";
import type { AsyncQueueServer, QueueStatus } from "@eas/proto";
import { unary } from "@eas/service-kit";
import type { Logger } from "@eas/telemetry";
import type { BatchJobs } from "../batch/batch-jobs.js";
import type { AsyncServicesState } from "../projections/async-services.js";
import type { DeadLetters } from "../queues/dead-letters.js";
import type { QueueDispatchers } from "../queues/dispatchers.js";
import { isNotFound } from "../queues/topology.js";

export interface AsyncQueueApiDeps {
  jsm: JetStreamManager;
  services: () => AsyncServicesState;
  dispatchers: QueueDispatchers;
  deadLetters: DeadLetters;
  batches: BatchJobs;
  logger: Logger;
  /** Wall clock, Unix ms. */
  clock: () => number;
}

/** The length, age and activity of one async service's queue (`eas queue`); also what the per-second samples carry. */
export async function queueStatus(deps: Omit<AsyncQueueApiDeps, "batches" | "logger">, service: string): Promise<QueueStatus> {
  const queued = deps.services()[service];
  if (!queued) throw new NotFoundError("service", service);
  if (!queued.async) throw new ValidationError([{ path: "service", message: `${service} is a standard service: it has no queue` }]);
  const layout = asyncQueueLayout(service);
  const [stream, priority, deadLetters] = await Promise.all([
    deps.jsm.streams.info(layout.stream).catch((error: unknown) => (isNotFound(error) ? undefined : Promise.reject(error))),
    deps.jsm.consumers
      .info(layout.stream, layout.priorityConsumer)
      .catch((error: unknown) => (isNotFound(error) ? undefined : Promise.reject(error))),
    deps.deadLetters.count(service),
  ]);
  const length = stream?.state.messages ?? 0;
  const firstAt = stream && length > 0 ? Date.parse(stream.state.first_ts) : NaN;
  const dispatcher = deps.dispatchers.get(service);
  const held = dispatcher?.snapshot();
  return {
    service,
    length,
    maxLength: queued.async.maxLength,
    priorityLength: priority ? priority.num_pending + priority.num_ack_pending : 0,
    oldestAgeMs: Number.isNaN(firstAt) ? 0 : Math.max(0, deps.clock() - firstAt),
    inFlight: held?.inFlight ?? 0,
    slots: held?.slots ?? 0,
    readyInstances: held?.readyInstances ?? 0,
    done: dispatcher?.stats.done ?? 0,
    failed: dispatcher?.stats.failed ?? 0,
    deadLetters,
  };
}

/** The AsyncQueue gRPC API: thin handlers over the dispatchers, dead letters and batch jobs. */
export function createAsyncQueueApi(deps: AsyncQueueApiDeps): AsyncQueueServer {
  const { logger } = deps;
  const requireService = (service: string) => {
    if (service === "") throw new ValidationError([{ path: "service", message: "is required" }]);
    const known = deps.services()[service];
    if (!known) throw new NotFoundError("service", service);
    if (!known.async) throw new ValidationError([{ path: "service", message: `${service} is a standard service: it has no queue` }]);
    return service;
  };
  return {
    getQueue: unary(logger, async (request) => queueStatus(deps, requireService(request.service))),
    listDeadLetters: unary(logger, async (request) => {
      const { deadLetters, total } = await deps.deadLetters.list(requireService(request.service), request.limit || 100);
      return { deadLetters, total };
    }),
    redrive: unary(logger, async (request) => {
      const service = requireService(request.service);
      if (!request.all && request.requestIds.length === 0) {
        throw new ValidationError([{ path: "request_ids", message: "name the requests to redrive, or set all" }]);
      }
      const { redriven, notFound } = await deps.deadLetters.redrive(service, request.requestIds, request.all);
      logger.info({ service, redriven: redriven.length }, "dead letters redriven");
      return { redriven, notFound };
    }),
    submitBatch: unary(logger, async (request) => deps.batches.submit(request)),
    getBatch: unary(logger, async (request) => {
      if (request.jobId === "") throw new ValidationError([{ path: "job_id", message: "is required" }]);
      return deps.batches.get(request.jobId);
    }),
    listBatches: unary(logger, async (request) => ({ jobs: deps.batches.list(request.service) })),
    cancelBatch: unary(logger, async (request) => {
      if (request.jobId === "") throw new ValidationError([{ path: "job_id", message: "is required" }]);
      return deps.batches.cancel(request.jobId);
    }),
  };
}

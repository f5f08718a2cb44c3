import { randomBytes } from "node:crypto";
import type { ServerWritableStream, UntypedServiceImplementation } from "@grpc/grpc-js";
import { NotFoundError, PreconditionFailedError, ValidationError, type Decider, type FieldViolation } from "@eas/decider";
import type { EventStore } from "@eas/event-store";
import { serviceStream } from "@eas/events";
import type { ProjectionRunner } from "@eas/projections";
import type { EventRecord, ServiceInfo, ServiceManagerServer, ServiceSpec, WatchEventsRequest } from "@eas/proto";
import { createKeyedMutex, executeCommand, unary } from "@eas/service-kit";
import { applyServiceUpdate, MAX_INSTANCES, parseDocumentText, parseServiceDocument } from "@eas/service-spec";
import type { Logger } from "@eas/telemetry";
import {
  currentSpec,
  serviceDecider,
  type ServiceCommand,
  type ServiceEvent,
  type ServiceState,
} from "../domain/service-decider.js";
import type { ServiceViews } from "../projections/service-views.js";
import { toServiceInfo, toVersionInfos } from "./service-info.js";

export interface ServiceManagerDeps {
  store: EventStore;
  views: ProjectionRunner<ServiceViews>;
  logger: Logger;
  gatewayUrl: string;
  now: () => Date;
  source: string;
}

const NAME_PATTERN = /^[a-z][a-z0-9_]{0,62}$/;

function requireName(name: string): string {
  if (!name) throw new ValidationError([{ path: "name", message: "is required" }]);
  if (!NAME_PATTERN.test(name)) {
    throw new ValidationError([{ path: "name", message: `"${name}" is not a valid service name` }]);
  }
  return name;
}

function patchSetsInstance(text: string): boolean {
  const parsed = parseDocumentText(text);
  if (!parsed.ok) return false;
  const metadata = (parsed.value as { metadata?: { instance?: unknown } } | null)?.metadata;
  return metadata?.instance !== undefined;
}

function toViolations(issues: { path: string; message: string }[]): FieldViolation[] {
  return issues.map((issue) => ({ path: issue.path, message: issue.message }));
}

interface UpdateRequest {
  name: string;
  /** The patch or whole document as the client sent it. */
  patch: string;
  updateType: string;
  now: string;
}

/**
 * UpdateService decided on the state read from the stream, inside executeCommand's optimistic-concurrency
 * loop: the patch is applied to the version the log holds at append time, so concurrent updates (or an
 * update and a scale) cannot overwrite each other's acknowledged changes, as they could when the patch
 * was applied to the read model before the append.
 */
const updateDecider: Decider<UpdateRequest, ServiceEvent, ServiceState> = {
  initialState: serviceDecider.initialState,
  evolve: serviceDecider.evolve,
  decide(request, state) {
    if (!state.exists) throw new NotFoundError("service", request.name);
    // Updates build on the version that runs now (after a rollback, that is the rolled-back-to one).
    const updated = applyServiceUpdate(currentSpec(state), request.patch, request.updateType);
    if (!updated.ok) throw new ValidationError(toViolations(updated.issues));
    // A merge that does not name metadata.instance keeps the replicas the service has now (after
    // `eas scale` or the autoscaler), not the count of the stored spec.
    if (request.updateType !== "replace" && !patchSetsInstance(request.patch)) updated.value.instance = state.desiredReplicas;
    const updateType = request.updateType === "replace" ? "replace" : "merge";
    return serviceDecider.decide({ type: "UpdateService", spec: updated.value, updateType, now: request.now }, state);
  },
};

/** The public ServiceManager gRPC API: validates, decides on the Service aggregate, answers from the read model. */
export function createServiceManager(deps: ServiceManagerDeps): ServiceManagerServer {
  const { store, views, logger } = deps;

  // Commands on one service take turns inside this process, so a burst of them (20 concurrent scales)
  // is served in order instead of losing optimistic-concurrency races and answering ABORTED.
  const perService = createKeyedMutex();

  const run = async (name: string, command: ServiceCommand): Promise<ServiceInfo> => {
    const stream = serviceStream(name);
    const result = await perService.run(stream, () => executeCommand({ store, stream, decider: serviceDecider, command, source: deps.source }));
    if (result.position !== undefined) await views.waitForPosition(result.position);
    return describe(name);
  };

  const update = async (request: UpdateRequest): Promise<ServiceInfo> => {
    const stream = serviceStream(request.name);
    const result = await perService.run(stream, () => executeCommand({ store, stream, decider: updateDecider, command: request, source: deps.source }));
    if (result.position !== undefined) await views.waitForPosition(result.position);
    return describe(request.name);
  };

  const describe = (name: string): ServiceInfo => {
    const view = views.state[name];
    if (!view || view.deleted) throw new NotFoundError("service", name);
    return toServiceInfo(view, deps.gatewayUrl);
  };

  const parseSpec = (text: string): ServiceSpec => {
    if (!text.trim()) throw new ValidationError([{ path: "spec", message: "is required" }]);
    const parsed = parseServiceDocument(text);
    if (!parsed.ok) throw new ValidationError(toViolations(parsed.issues));
    return parsed.value;
  };

  const watchEvents = (call: ServerWritableStream<WatchEventsRequest, EventRecord>) => {
    const { fromPosition, typePrefix, follow } = call.request;
    const subscription = store.subscribeToAll({ afterPosition: fromPosition });
    const stop = () => void subscription.close();
    call.on("cancelled", stop);
    call.on("close", stop);
    void (async () => {
      try {
        const head = follow ? Number.POSITIVE_INFINITY : await store.headPosition();
        if (head <= fromPosition) {
          stop();
          call.end();
          return;
        }
        for await (const e of subscription) {
          if (typePrefix && !e.type.startsWith(typePrefix)) {
            if (e.position >= head) break;
            continue;
          }
          const record: EventRecord = {
            id: e.id,
            type: e.type,
            stream: e.stream,
            revision: e.revision,
            position: e.position,
            time: e.time.toISOString(),
            dataJson: JSON.stringify(e.data),
            metadata: Object.fromEntries(Object.entries(e.metadata).filter(([, v]) => typeof v === "string")) as Record<string, string>,
          };
          if (!call.write(record)) {
            // Wait for the slow client, but not past its going away.
            await new Promise<void>((resolve) => {
              const done = () => {
                call.off("drain", done);
                call.off("close", done);
                resolve();
              };
              call.once("drain", done);
              call.once("close", done);
            });
            if (call.cancelled || call.destroyed) break;
          }
          if (e.position >= head) break;
        }
        stop();
        call.end();
      } catch (error) {
        logger.warn({ err: error }, "WatchEvents stream ended with an error");
        call.destroy(error instanceof Error ? error : new Error(String(error)));
      }
    })();
  };

  return {
    createService: unary(logger, async (request) => {
      const spec = parseSpec(request.spec);
      if (views.state[spec.name]?.deleted) {
        throw new PreconditionFailedError(`service ${spec.name} is still being deleted; create it again once its instances have stopped`);
      }
      const token = randomBytes(24).toString("base64url");
      return run(spec.name, { type: "CreateService", spec, token, now: deps.now().toISOString() });
    }),
    updateService: unary(logger, async (request) => {
      const name = requireName(request.name);
      return update({ name, patch: request.spec, updateType: request.updateType, now: deps.now().toISOString() });
    }),
    getService: unary(logger, async (request) => describe(requireName(request.name))),
    listServices: unary(logger, async () => ({
      services: Object.values(views.state)
        .filter((view) => !view.deleted)
        .sort((a, b) => a.name.localeCompare(b.name))
        .map((view) => toServiceInfo(view, deps.gatewayUrl)),
    })),
    deleteService: unary(logger, async (request) => {
      const name = requireName(request.name);
      const before = describe(name);
      await run(name, { type: "DeleteService", name, now: deps.now().toISOString() }).catch((error: unknown) => {
        if (!(error instanceof NotFoundError)) throw error;
      });
      return { ...before, status: "Deleting" };
    }),
    startService: unary(logger, async (request) => {
      const name = requireName(request.name);
      return run(name, { type: "StartService", name, now: deps.now().toISOString() });
    }),
    stopService: unary(logger, async (request) => {
      const name = requireName(request.name);
      return run(name, { type: "StopService", name, now: deps.now().toISOString() });
    }),
    scaleService: unary(logger, async (request) => {
      const name = requireName(request.name);
      if (request.replicas > MAX_INSTANCES) throw new ValidationError([{ path: "replicas", message: `must be at most ${MAX_INSTANCES}` }]);
      return run(name, { type: "ScaleService", name, replicas: request.replicas, cause: "user", now: deps.now().toISOString() });
    }),
    listVersions: unary(logger, async (request) => {
      const name = requireName(request.name);
      const view = views.state[name];
      if (!view || view.deleted) throw new NotFoundError("service", name);
      return { versions: toVersionInfos(view) };
    }),
    rollbackService: unary(logger, async (request) => {
      const name = requireName(request.name);
      if (request.version < 1) throw new ValidationError([{ path: "version", message: "must be >= 1" }]);
      return run(name, { type: "RollbackService", name, version: request.version, now: deps.now().toISOString() });
    }),
    watchEvents,
  } satisfies ServiceManagerServer & UntypedServiceImplementation;
}

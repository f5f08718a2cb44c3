import type { ServerWritableStream, UntypedServiceImplementation } from "@grpc/grpc-js";
import { DomainError, NotFoundError, PreconditionFailedError, ValidationError, type Decider } from "@eas/decider";
import type { EventStore } from "@eas/event-store";
import { serviceStream } from "@eas/events";
import type { ProjectionRunner } from "@eas/projections";
import type { EventRecord, ServiceInfo, ServiceManagerServer, ServiceSpec, WatchEventsRequest } from "@eas/proto";
import { CallCancelledError, createKeyedMutex, executeCommand, unary } from "@eas/service-kit";
import { MAX_INSTANCES, parseServiceDocument, SERVICE_NAME_PATTERN } from "@eas/service-spec";
import type { Logger } from "@eas/telemetry";
import { serviceDecider, type ScaleCause, type ServiceCommand, type ServiceEvent, type ServiceState } from "../domain/service-decider.js";
import { decideUpdate, toViolations, updateDecider, type UpdateRequest } from "../domain/update-decider.js";
import type { ServiceView, ServiceViews } from "../projections/service-views.js";
import { withoutClearToken, type ServiceTokens } from "../tokens/service-tokens.js";
import { toServiceInfo, toVersionInfos } from "./service-info.js";

export interface ServiceManagerDeps {
  store: EventStore;
  views: ProjectionRunner<ServiceViews>;
  logger: Logger;
  gatewayUrl: string;
  /** Services' clear tokens, which no event carries (ADR 0027). */
  tokens: ServiceTokens;
  now: () => Date;
  source: string;
}

function requireName(name: string): string {
  if (!name) throw new ValidationError([{ path: "name", message: "is required" }]);
  if (!SERVICE_NAME_PATTERN.test(name)) {
    throw new ValidationError([{ path: "name", message: `"${name}" is not a valid service name` }]);
  }
  return name;
}

const SCALE_CAUSES: readonly ScaleCause[] = ["user", "autoscaler", "cron"];

function scaleCause(cause: string): ScaleCause {
  if (!cause) return "user";
  if (!(SCALE_CAUSES as readonly string[]).includes(cause)) {
    throw new ValidationError([{ path: "cause", message: `must be one of ${SCALE_CAUSES.join(", ")} (empty means user), got "${cause}"` }]);
  }
  return cause as ScaleCause;
}

/** What a command needs of its gRPC call: whether the client is still waiting. */
interface Caller {
  readonly cancelled: boolean;
}

/** The public ServiceManager gRPC API: validates, decides on the Service aggregate, answers from the read model. */
export function createServiceManager(deps: ServiceManagerDeps): ServiceManagerServer {
  const { store, views, logger, tokens } = deps;

  // Commands on one service take turns inside this process, so a burst of them (20 concurrent scales)
  // is served in order instead of losing optimistic-concurrency races and answering ABORTED.
  const perService = createKeyedMutex();

  /**
   * Runs a command in the service's turn. A call whose client went away while it waited for its turn
   * (its deadline passed) is dropped: writing it after the client was told it failed would let a retry
   * apply it twice. The answer reflects at least what the decision saw, even when nothing changed.
   */
  const inTurn = async <C>(
    name: string,
    call: Caller,
    decider: Decider<C, ServiceEvent, ServiceState>,
    command: C,
  ): Promise<ServiceInfo> => {
    const stream = serviceStream(name);
    const result = await perService.run(stream, () => {
      if (call.cancelled) throw new CallCancelledError(`the command on ${name}`);
      return executeCommand({ store, stream, decider, command, source: deps.source });
    });
    const seen = result.position ?? result.readPosition;
    if (seen !== undefined) await views.waitForPosition(seen);
    return describe(name);
  };
  const run = (name: string, call: Caller, command: ServiceCommand) => inTurn(name, call, serviceDecider, command);
  /** An update, answered with the warnings about the spec of the version it decided (the last decision, after retries). */
  const update = async (request: UpdateRequest, call: Caller): Promise<ServiceInfo> => {
    let warnings: string[] = [];
    const decider: Decider<UpdateRequest, ServiceEvent, ServiceState> = {
      ...updateDecider,
      decide: (command, state) => {
        const decision = decideUpdate(command, state);
        warnings = decision.warnings;
        return decision.events;
      },
    };
    const info = await inTurn(request.name, call, decider, request);
    return { ...info, warnings };
  };

  const infoOf = async (view: ServiceView): Promise<ServiceInfo> =>
    toServiceInfo(view, deps.gatewayUrl, await tokens.reveal(view.name, view.tokenSha256));

  const describe = (name: string): Promise<ServiceInfo> => {
    const view = views.state[name];
    if (!view || view.deleted) throw new NotFoundError("service", name);
    return infoOf(view);
  };

  /** The spec and the warnings about it; an empty document is refused as the spec parser words it. */
  const parseSpec = (text: string): { spec: ServiceSpec; warnings: string[] } => {
    const parsed = parseServiceDocument(text);
    if (!parsed.ok) throw new ValidationError(toViolations(parsed.issues));
    return { spec: parsed.value, warnings: parsed.warnings };
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
            dataJson: JSON.stringify(withoutClearToken(e.type, e.data)),
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
    createService: unary(logger, async (request, call) => {
      const { spec, warnings } = parseSpec(request.spec);
      if (views.state[spec.name]?.deleted) {
        throw new PreconditionFailedError(`service ${spec.name} is still being deleted; create it again once its instances have stopped`);
      }
      // Into the vault before the event that names its digest: a created service always has its token.
      const token = await tokens.issue();
      try {
        const info = await run(spec.name, call, { type: "CreateService", spec, tokenSha256: token.sha256, now: deps.now().toISOString() });
        return { ...info, warnings };
      } catch (error) {
        // Refused before anything was written (the service exists, the caller left): nobody will present this token.
        if (error instanceof DomainError || error instanceof CallCancelledError) await tokens.forget(token.sha256).catch(() => undefined);
        throw error;
      }
    }),
    updateService: unary(logger, async (request, call) => {
      const name = requireName(request.name);
      return update({ name, patch: request.spec, updateType: request.updateType, now: deps.now().toISOString() }, call);
    }),
    getService: unary(logger, async (request) => describe(requireName(request.name))),
    listServices: unary(logger, async () => ({
      services: await Promise.all(
        Object.values(views.state)
          .filter((view) => !view.deleted)
          .sort((a, b) => a.name.localeCompare(b.name))
          .map(infoOf),
      ),
    })),
    deleteService: unary(logger, async (request, call) => {
      const name = requireName(request.name);
      const before = await describe(name);
      const sha256 = views.state[name]?.tokenSha256 ?? "";
      await run(name, call, { type: "DeleteService", name, now: deps.now().toISOString() }).catch((error: unknown) => {
        if (!(error instanceof NotFoundError)) throw error;
      });
      // The gateway stopped accepting the token with ServiceDeleted; a failure here only leaves a dead entry.
      if (sha256)
        await tokens.forget(sha256).catch((error: unknown) => logger.warn({ err: error, service: name }, "could not drop the token"));
      return { ...before, status: "Deleting" };
    }),
    startService: unary(logger, async (request, call) => {
      const name = requireName(request.name);
      return run(name, call, { type: "StartService", name, now: deps.now().toISOString() });
    }),
    stopService: unary(logger, async (request, call) => {
      const name = requireName(request.name);
      return run(name, call, { type: "StopService", name, now: deps.now().toISOString() });
    }),
    scaleService: unary(logger, async (request, call) => {
      const name = requireName(request.name);
      if (request.replicas > MAX_INSTANCES) throw new ValidationError([{ path: "replicas", message: `must be at most ${MAX_INSTANCES}` }]);
      const cause = scaleCause(request.cause ?? "");
      const autoscaling = views.state[name]?.autoscaling;
      // A service with a policy has one owner of its count: a user changes the policy's bounds instead (ADR 0032).
      if (cause === "user" && autoscaling) {
        throw new PreconditionFailedError(
          `service ${name} is autoscaled (min ${autoscaling.minReplicas}, max ${autoscaling.maxReplicas}): ` +
            `change the bounds with \`eas autoscale ${name} --min N --max M\`, or remove the policy with \`eas autoscale ${name} --delete\``,
        );
      }
      return run(name, call, {
        type: "ScaleService",
        name,
        replicas: request.replicas,
        cause,
        reason: request.reason,
        now: deps.now().toISOString(),
      });
    }),
    listVersions: unary(logger, async (request) => {
      const name = requireName(request.name);
      const view = views.state[name];
      if (!view || view.deleted) throw new NotFoundError("service", name);
      return { versions: toVersionInfos(view) };
    }),
    rollbackService: unary(logger, async (request, call) => {
      const name = requireName(request.name);
      if (request.version < 1) throw new ValidationError([{ path: "version", message: "must be >= 1" }]);
      return run(name, call, { type: "RollbackService", name, version: request.version, now: deps.now().toISOString() });
    }),
    watchEvents,
  } satisfies ServiceManagerServer & UntypedServiceImplementation;
}

import type { UntypedServiceImplementation } from "@grpc/grpc-js";
import { DomainError, NotFoundError, ValidationError, type Decider } from "@eas/decider";
import type { EventStore } from "@eas/event-store";
import { groupStream, serviceStream } from "@eas/events";
import type { ProjectionRunner } from "@eas/projections";
import type { GroupInfo, ReleaseManagerServer, ReleaseStatus } from "@eas/proto";
import { CallCancelledError, executeCommand, unary, type CommandResult } from "@eas/service-kit";
import { SERVICE_NAME_PATTERN } from "@eas/service-spec";
import type { Logger } from "@eas/telemetry";
import { groupDecider, type GroupCommand, type GroupEvent, type GroupState } from "../domain/group-decider.js";
import { serviceDecider, type ServiceCommand, type ServiceEvent, type ServiceState } from "../domain/service-decider.js";
import { decideStagedRelease, type StagedReleaseRequest } from "../domain/update-decider.js";
import type { GroupViews } from "../projections/group-views.js";
import type { ServiceView, ServiceViews } from "../projections/service-views.js";
import type { ServiceTokens } from "../tokens/service-tokens.js";
import { toGroupInfo, toReleaseStatus } from "./release-info.js";

export interface ReleaseManagerDeps {
  store: EventStore;
  views: ProjectionRunner<ServiceViews>;
  groups: ProjectionRunner<GroupViews>;
  logger: Logger;
  gatewayUrl: string;
  /** Groups' clear tokens live beside the services' (ADR 0027). */
  tokens: ServiceTokens;
  now: () => Date;
  source: string;
}

function requireName(name: string, what: "service" | "group" = "service", field = "name"): string {
  if (!name) throw new ValidationError([{ path: field, message: "is required" }]);
  if (!SERVICE_NAME_PATTERN.test(name)) throw new ValidationError([{ path: field, message: `"${name}" is not a valid ${what} name` }]);
  return name;
}

/** What a command needs of its gRPC call: whether the client is still waiting. */
interface Caller {
  readonly cancelled: boolean;
}

/**
 * The public ReleaseManager gRPC API: canaries, release plans, mirrors (on the Service aggregate) and service
 * groups (their own aggregate). Thin: the deciders validate and decide; answers come from the read models once
 * they have caught up with what was written.
 */
export function createReleaseManager(deps: ReleaseManagerDeps): ReleaseManagerServer {
  const { store, views, groups, logger, tokens } = deps;
  const now = () => deps.now().toISOString();

  const live = (name: string): ServiceView | undefined => {
    const view = views.state[name];
    return view && !view.deleted ? view : undefined;
  };
  const knownServices = () => Object.values(views.state).flatMap((view) => (view.deleted ? [] : [view.name]));

  const caughtUp = async <E, S>(result: CommandResult<E, S>, runner: ProjectionRunner<unknown>) => {
    const seen = result.position ?? result.readPosition;
    if (seen !== undefined) await runner.waitForPosition(seen);
  };

  const onService = async <C>(
    name: string,
    call: Caller,
    decider: Decider<C, ServiceEvent, ServiceState>,
    command: C,
  ): Promise<ReleaseStatus> => {
    if (call.cancelled) throw new CallCancelledError(`the command on ${name}`);
    await caughtUp(await executeCommand({ store, stream: serviceStream(name), decider, command, source: deps.source }), views);
    return statusOf(name);
  };
  const run = (name: string, call: Caller, command: ServiceCommand) => onService(name, call, serviceDecider, command);
  const stagedReleaseDecider: Decider<StagedReleaseRequest, ServiceEvent, ServiceState> = {
    initialState: serviceDecider.initialState,
    evolve: serviceDecider.evolve,
    decide: (request, state) => decideStagedRelease(request, state).events,
  };

  const statusOf = (name: string): ReleaseStatus => {
    const view = live(name);
    if (!view) throw new NotFoundError("service", name);
    return toReleaseStatus(view);
  };

  const onGroup = async (name: string, call: Caller, command: GroupCommand): Promise<GroupInfo> => {
    if (call.cancelled) throw new CallCancelledError(`the command on group ${name}`);
    const decider: Decider<GroupCommand, GroupEvent, GroupState> = groupDecider;
    await caughtUp(await executeCommand({ store, stream: groupStream(name), decider, command, source: deps.source }), groups);
    return groupInfoOf(name);
  };
  const groupInfoOf = async (name: string): Promise<GroupInfo> => {
    const group = groups.state[name];
    if (!group) throw new NotFoundError("group", name);
    return toGroupInfo(group, views.state, deps.gatewayUrl, await tokens.reveal(name, group.tokenSha256));
  };

  return {
    startRelease: unary(logger, async (request, call) => {
      const name = requireName(request.name);
      const canary = { weight: request.weight, replicas: request.replicas, plan: request.plan };
      if (request.spec) {
        const staged: StagedReleaseRequest = { name, patch: request.spec, updateType: request.updateType, canary, now: now() };
        return onService(name, call, stagedReleaseDecider, staged);
      }
      if (request.version < 1) throw new ValidationError([{ path: "version", message: "name the canary's version (or give a spec)" }]);
      return run(name, call, { type: "StartCanary", name, version: request.version, ...canary, now: now() });
    }),
    promoteRelease: unary(logger, async (request, call) => {
      const name = requireName(request.name);
      return run(name, call, { type: "PromoteCanary", name, cause: "user", reason: "promoted by the user", now: now() });
    }),
    abortRelease: unary(logger, async (request, call) => {
      const name = requireName(request.name);
      return run(name, call, { type: "AbortCanary", name, cause: "user", reason: request.reason || "aborted by the user", now: now() });
    }),
    getRelease: unary(logger, async (request) => statusOf(requireName(request.name))),
    setMirror: unary(logger, async (request, call) => {
      const name = requireName(request.name);
      const { target, targetVersion, ratio } = request;
      // The target is another aggregate: checked here against the read model; the decider checks the rest.
      if (ratio > 0 && target && target !== name) {
        const targetView = live(requireName(target, "service", "target"));
        if (!targetView) throw new ValidationError([{ path: "target", message: `no service named "${target}"` }]);
        if (targetVersion > 0 && !targetView.versions.some((v) => v.version === targetVersion)) {
          const versions = targetView.versions.map((v) => v.version).join(", ");
          throw new ValidationError([
            { path: "target_version", message: `service ${target} has no version ${targetVersion} (versions: ${versions})` },
          ]);
        }
      }
      return run(name, call, { type: "SetMirror", name, target, targetVersion, ratio, now: now() });
    }),
    createGroup: unary(logger, async (request, call) => {
      const name = requireName(request.name, "group");
      // Into the vault before the event that names its digest, as for services.
      const token = await tokens.issue();
      try {
        const command: GroupCommand = {
          type: "CreateGroup",
          name,
          members: request.members,
          knownServices: knownServices(),
          tokenSha256: token.sha256,
          now: now(),
        };
        return await onGroup(name, call, command);
      } catch (error) {
        if (error instanceof DomainError || error instanceof CallCancelledError) await tokens.forget(token.sha256).catch(() => undefined);
        throw error;
      }
    }),
    updateGroup: unary(logger, async (request, call) => {
      const name = requireName(request.name, "group");
      return onGroup(name, call, { type: "UpdateGroup", name, members: request.members, knownServices: knownServices(), now: now() });
    }),
    getGroup: unary(logger, async (request) => groupInfoOf(requireName(request.name, "group"))),
    listGroups: unary(logger, async () => ({
      groups: await Promise.all(
        Object.keys(groups.state)
          .sort()
          .map((name) => groupInfoOf(name)),
      ),
    })),
    deleteGroup: unary(logger, async (request, call) => {
      const name = requireName(request.name, "group");
      const before = await groupInfoOf(name);
      const sha256 = groups.state[name]?.tokenSha256 ?? "";
      await onGroup(name, call, { type: "DeleteGroup", name, now: now() }).catch((error: unknown) => {
        // Answered from the view, which no longer holds the deleted group.
        if (!(error instanceof NotFoundError)) throw error;
      });
      if (sha256)
        await tokens.forget(sha256).catch((error: unknown) => logger.warn({ err: error, group: name }, "could not drop the token"));
      return before;
    }),
  } satisfies ReleaseManagerServer & UntypedServiceImplementation;
}

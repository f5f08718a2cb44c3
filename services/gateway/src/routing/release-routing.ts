import type { EasEvent, EventOf } from "@eas/events";
import type { GroupEntry, RouteCanary, RouteMirror } from "../proxy/index.js";

/**
 * What a service's stream says about where its requests go beyond its instances: the canary and its weight,
 * the withdrawn versions (aborted canaries: no request goes to them unless it pins them), the mirror, and the
 * highest version recorded (for `X-Eas-Version`). The same meaning as the deployer's traffic fold
 * (services/deployer/src/domain/traffic.ts), reduced to what routing needs.
 */
export interface ReleaseRouting {
  latestVersion: number;
  canary?: RouteCanary;
  withdrawn: number[];
  mirror?: RouteMirror;
}

/** The events of a service's stream that {@link evolveReleaseRouting} folds. */
export type ReleaseRoutingEvent =
  | EventOf<"eas.v1.ServiceUpdated">
  | EventOf<"eas.v1.ServiceVersionAdded">
  | EventOf<"eas.v1.ServiceRolledBack">
  | EventOf<"eas.v1.CanaryStarted">
  | EventOf<"eas.v1.CanaryWeightChanged">
  | EventOf<"eas.v1.CanaryPromoted">
  | EventOf<"eas.v1.CanaryAborted">
  | EventOf<"eas.v1.MirrorSet">
  | EventOf<"eas.v1.MirrorRemoved">;

const RELEASE_ROUTING_TYPES = new Set<string>([
  "eas.v1.ServiceUpdated",
  "eas.v1.ServiceVersionAdded",
  "eas.v1.ServiceRolledBack",
  "eas.v1.CanaryStarted",
  "eas.v1.CanaryWeightChanged",
  "eas.v1.CanaryPromoted",
  "eas.v1.CanaryAborted",
  "eas.v1.MirrorSet",
  "eas.v1.MirrorRemoved",
]);

export function isReleaseRoutingEvent(e: EasEvent): e is ReleaseRoutingEvent {
  return RELEASE_ROUTING_TYPES.has(e.type);
}

const without = (versions: number[], version: number) => (versions.includes(version) ? versions.filter((v) => v !== version) : versions);

/** Folds one release event into a service's routing. */
export function evolveReleaseRouting(state: ReleaseRouting, e: ReleaseRoutingEvent): ReleaseRouting {
  switch (e.type) {
    case "eas.v1.ServiceUpdated":
    case "eas.v1.ServiceVersionAdded":
      return e.data.version > state.latestVersion ? { ...state, latestVersion: e.data.version } : state;
    case "eas.v1.ServiceRolledBack":
      return { ...state, withdrawn: without(state.withdrawn, e.data.toVersion) };
    case "eas.v1.CanaryStarted":
      return {
        ...state,
        canary: { version: e.data.version, weight: e.data.weight },
        withdrawn: without(state.withdrawn, e.data.version),
      };
    case "eas.v1.CanaryWeightChanged":
      return state.canary ? { ...state, canary: { ...state.canary, weight: e.data.toWeight } } : state;
    case "eas.v1.CanaryPromoted": {
      const { canary: _canary, ...rest } = state;
      return { ...rest, withdrawn: without(state.withdrawn, e.data.toVersion) };
    }
    case "eas.v1.CanaryAborted": {
      const { canary: _canary, ...rest } = state;
      return { ...rest, withdrawn: [...without(state.withdrawn, e.data.version), e.data.version] };
    }
    case "eas.v1.MirrorSet":
      return { ...state, mirror: { target: e.data.target, targetVersion: e.data.targetVersion, ratio: e.data.ratio } };
    case "eas.v1.MirrorRemoved": {
      const { mirror: _mirror, ...rest } = state;
      return rest;
    }
  }
}

export type RoutedGroups = Record<string, GroupEntry>;

/** Folds a service group's event (stream "group-<name>"); other events leave the groups as they are. */
export function evolveGroups(groups: RoutedGroups, e: EasEvent): RoutedGroups {
  switch (e.type) {
    case "eas.v1.ServiceGroupCreated":
      return {
        ...groups,
        [e.data.name]: {
          group: e.data.name,
          tokenSha256: e.data.tokenSha256,
          members: e.data.members.map(({ service, weight }) => ({ service, weight })),
        },
      };
    case "eas.v1.ServiceGroupUpdated": {
      const group = groups[e.data.name];
      return group
        ? { ...groups, [e.data.name]: { ...group, members: e.data.members.map(({ service, weight }) => ({ service, weight })) } }
        : groups;
    }
    case "eas.v1.ServiceGroupDeleted": {
      const { [e.data.name]: _deleted, ...rest } = groups;
      return rest;
    }
    default:
      return groups;
  }
}

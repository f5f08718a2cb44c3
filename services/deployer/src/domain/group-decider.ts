import { AlreadyExistsError, NotFoundError, ValidationError, type Decider, type FieldViolation } from "@eas/decider";
import { event, type EventOf } from "@eas/events";
import type { GroupMember } from "@eas/proto";
import { SERVICE_NAME_PATTERN } from "@eas/service-spec";

/** A group's members are services the deployer knows; the API passes the names it knows with the command. */
export type GroupCommand =
  | { type: "CreateGroup"; name: string; members: GroupMember[]; knownServices: readonly string[]; tokenSha256: string; now: string }
  | { type: "UpdateGroup"; name: string; members: GroupMember[]; knownServices: readonly string[]; now: string }
  | { type: "DeleteGroup"; name: string; now: string };

export type GroupEvent =
  EventOf<"eas.v1.ServiceGroupCreated"> | EventOf<"eas.v1.ServiceGroupUpdated"> | EventOf<"eas.v1.ServiceGroupDeleted">;

export type GroupState =
  { exists: false } | { exists: true; name: string; members: GroupMember[]; tokenSha256: string; createdAt: string; updatedAt: string };

/** The most members a group may have: a routing choice per request stays cheap. */
export const MAX_GROUP_MEMBERS = 32;

/**
 * Members name distinct services the deployer knows, each with a weight of 0 to 100, and not all 0 (a group
 * that can route nothing is a mistake). Each bad member is named by its index: `members[1].service`.
 */
export function memberViolations(members: readonly GroupMember[], knownServices: readonly string[]): FieldViolation[] {
  const violations: FieldViolation[] = [];
  if (members.length === 0) violations.push({ path: "members", message: "name at least one service" });
  if (members.length > MAX_GROUP_MEMBERS) violations.push({ path: "members", message: `at most ${MAX_GROUP_MEMBERS} services` });
  const known = new Set(knownServices);
  const seen = new Set<string>();
  members.forEach((member, index) => {
    const path = `members[${index}]`;
    if (!member.service) violations.push({ path: `${path}.service`, message: "is required" });
    else if (!known.has(member.service)) violations.push({ path: `${path}.service`, message: `no service named "${member.service}"` });
    else if (seen.has(member.service)) violations.push({ path: `${path}.service`, message: `"${member.service}" is named twice` });
    seen.add(member.service);
    if (!Number.isInteger(member.weight) || member.weight < 0 || member.weight > 100) {
      violations.push({ path: `${path}.weight`, message: `must be 0 to 100, got ${member.weight}` });
    }
  });
  if (members.length > 0 && members.every((m) => m.weight === 0)) {
    violations.push({ path: "members", message: "at least one member needs a weight above 0" });
  }
  return violations;
}

const copyMembers = (members: readonly GroupMember[]): GroupMember[] => members.map(({ service, weight }) => ({ service, weight }));

function decide(command: GroupCommand, state: GroupState): GroupEvent[] {
  switch (command.type) {
    case "CreateGroup": {
      const violations: FieldViolation[] = [];
      if (!SERVICE_NAME_PATTERN.test(command.name))
        violations.push({ path: "name", message: `"${command.name}" is not a valid group name` });
      // One path, /api/predict/<name>, serves both services and groups.
      else if (command.knownServices.includes(command.name)) {
        violations.push({ path: "name", message: `a service is named "${command.name}": a group needs a name of its own` });
      }
      violations.push(...memberViolations(command.members, command.knownServices));
      if (violations.length > 0) throw new ValidationError(violations);
      if (state.exists) throw new AlreadyExistsError("group", command.name);
      const { name, tokenSha256, now } = command;
      return [event("ServiceGroupCreated", { name, members: copyMembers(command.members), tokenSha256, at: now })];
    }
    case "UpdateGroup": {
      const violations = memberViolations(command.members, command.knownServices);
      if (violations.length > 0) throw new ValidationError(violations);
      if (!state.exists) throw new NotFoundError("group", command.name);
      const same =
        state.members.length === command.members.length &&
        state.members.every((m, i) => m.service === command.members[i]!.service && m.weight === command.members[i]!.weight);
      if (same) return [];
      return [event("ServiceGroupUpdated", { name: command.name, members: copyMembers(command.members), at: command.now })];
    }
    case "DeleteGroup":
      if (!state.exists) throw new NotFoundError("group", command.name);
      return [event("ServiceGroupDeleted", { name: command.name, at: command.now })];
  }
}

function evolve(state: GroupState, e: GroupEvent): GroupState {
  switch (e.type) {
    case "eas.v1.ServiceGroupCreated":
      return {
        exists: true,
        name: e.data.name,
        members: e.data.members,
        tokenSha256: e.data.tokenSha256,
        createdAt: e.data.at,
        updatedAt: e.data.at,
      };
    case "eas.v1.ServiceGroupUpdated":
      return state.exists ? { ...state, members: e.data.members, updatedAt: e.data.at } : state;
    case "eas.v1.ServiceGroupDeleted":
      return { exists: false };
  }
}

/** The ServiceGroup aggregate (stream "group-<name>"): its members, their weights and the digest of its token. */
export const groupDecider: Decider<GroupCommand, GroupEvent, GroupState> = {
  decide,
  evolve,
  initialState: () => ({ exists: false }),
};

import type { RecordedEvent } from "@eas/event-store";
import { decodeEvent, StreamCategory } from "@eas/events";
import type { Projection } from "@eas/projections";
import type { GroupMember } from "@eas/proto";

export interface GroupView {
  name: string;
  members: GroupMember[];
  /** SHA-256 (hex) of the group's token; the token itself is in the deployer's vault (ADR 0027). */
  tokenSha256: string;
  createdAt: string;
  updatedAt: string;
}

export type GroupViews = Record<string, GroupView>;

/** The deployer's service groups, for GetGroup and ListGroups. */
export const groupViewsProjection: Projection<GroupViews> = {
  name: "group-views",
  version: 1,
  categories: [StreamCategory.group],
  initialState: () => ({}),
  evolve(groups: GroupViews, recorded: RecordedEvent): GroupViews {
    const e = decodeEvent(recorded);
    switch (e?.type) {
      case "eas.v1.ServiceGroupCreated": {
        const { name, members, tokenSha256, at } = e.data;
        return { ...groups, [name]: { name, members, tokenSha256, createdAt: at, updatedAt: at } };
      }
      case "eas.v1.ServiceGroupUpdated": {
        const group = groups[e.data.name];
        return group ? { ...groups, [group.name]: { ...group, members: e.data.members, updatedAt: e.data.at } } : groups;
      }
      case "eas.v1.ServiceGroupDeleted": {
        const { [e.data.name]: _gone, ...rest } = groups;
        return rest;
      }
      default:
        return groups;
    }
  },
};

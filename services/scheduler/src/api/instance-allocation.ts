import type { Decider } from "@eas/decider";
import type { InstanceScheduled } from "@eas/proto";
import { ClusterEventType, type AllocationEvent } from "../nodes/index.js";

/** Reason of the InstanceStopped that ReleaseInstance records. */
export const RELEASED_REASON = "released";

/**
 * What the scheduler needs to know of one instance stream ("instance-<id>"):
 * the placement it holds, if it still holds one.
 */
export interface InstanceAllocationState {
  /** The latest InstanceScheduled, while neither stopped nor failed since. */
  readonly holding: InstanceScheduled | undefined;
}

/** Names of the scheduler's commands on an instance stream. */
export const InstanceAllocationCommandType = {
  ReleaseInstance: "ReleaseInstance",
  FailInstanceOnLostNode: "FailInstanceOnLostNode",
} as const;

/** Free the instance's resources (the deployer stopped it); nothing when it holds none. */
export interface ReleaseInstanceCommand {
  readonly type: typeof InstanceAllocationCommandType.ReleaseInstance;
  readonly instanceId: string;
  /** Epoch ms. */
  readonly now: number;
}

/** Fail the instance because its node is lost; nothing when it no longer holds a place on that node. */
export interface FailInstanceOnLostNodeCommand {
  readonly type: typeof InstanceAllocationCommandType.FailInstanceOnLostNode;
  readonly instanceId: string;
  readonly nodeId: string;
  readonly reason: string;
  /** Epoch ms. */
  readonly now: number;
}

export type InstanceAllocationCommand = ReleaseInstanceCommand | FailInstanceOnLostNodeCommand;

/**
 * The scheduler's view of an instance stream as a {@link Decider}: releasing
 * and failing are idempotent because they emit only while a placement is held.
 * The stream also holds the agent's events (InstanceStarting, InstanceReady, ...);
 * they do not change the allocation and are ignored.
 */
export const instanceAllocationDecider: Decider<InstanceAllocationCommand, AllocationEvent, InstanceAllocationState> = {
  initialState: () => ({ holding: undefined }),
  evolve(state, event) {
    switch (event.type) {
      case ClusterEventType.InstanceScheduled:
        return { holding: event.data };
      case ClusterEventType.InstanceStopped:
        // Same rule as evolveCluster: a stop reported by a node the instance has left does not free its new place.
        if (event.data.nodeId !== "" && event.data.nodeId !== state.holding?.nodeId) return state;
        return { holding: undefined };
      case ClusterEventType.InstanceFailed:
        return { holding: undefined };
      default:
        return state;
    }
  },
  decide(command, state) {
    const { holding } = state;
    const at = new Date(command.now).toISOString();
    switch (command.type) {
      case InstanceAllocationCommandType.ReleaseInstance:
        if (holding === undefined) return [];
        return [
          {
            type: ClusterEventType.InstanceStopped,
            data: { instanceId: command.instanceId, service: holding.service, nodeId: holding.nodeId, reason: RELEASED_REASON, at },
          },
        ];
      case InstanceAllocationCommandType.FailInstanceOnLostNode:
        if (holding === undefined || holding.nodeId !== command.nodeId) return [];
        return [
          {
            type: ClusterEventType.InstanceFailed,
            data: { instanceId: command.instanceId, service: holding.service, reason: command.reason, at },
          },
        ];
    }
  },
};

import { PreconditionFailedError, type Decider } from "@eas/decider";
import { event } from "@eas/events";
import type { Resources } from "@eas/proto";
import { absentInstance, evolveInstance, type InstanceLifecycle } from "./lifecycle.js";
import {
  canMove,
  hasEnded,
  InstancePhase,
  isInstanceEvent,
  isLeavingService,
  MoveCause,
  PHASE_OF_EVENT,
  type InstanceEvent,
  type InstancePhaseEvent,
} from "./phase.js";

/** Names of the commands on an instance stream. */
export const InstanceCommandType = {
  /** Scheduler: the instance is placed on a node. */
  ScheduleInstance: "ScheduleInstance",
  /** Agent: the process starts (or restarts). */
  ReportStarting: "ReportStarting",
  /** Agent: the readiness probe passes. */
  ReportReady: "ReportReady",
  /** Agent: the readiness probe fails. */
  ReportUnhealthy: "ReportUnhealthy",
  /** Agent: the process ended on its own and will be restarted. */
  ReportExited: "ReportExited",
  /** Deployer: take the instance out of service. */
  DrainInstance: "DrainInstance",
  /** Agent (process stopped), deployer (nothing left to stop), scheduler (allocation released). */
  ReportStopped: "ReportStopped",
  /** Agent (launch failed, restarts given up, found dead after an agent restart), scheduler (node reclaimed). */
  FailInstance: "FailInstance",
  /** Scheduler: the instance's node stopped heartbeating. */
  MarkLost: "MarkLost",
  /** Deployer (rebalance), scheduler (reclaim notice), agent (an orphan of its previous run): replace it elsewhere. */
  RequestMove: "RequestMove",
} as const;
export type InstanceCommandType = (typeof InstanceCommandType)[keyof typeof InstanceCommandType];

/** Every command carries the instance id and `now`, an ISO 8601 time that becomes the event's `at`. */
interface Addressed {
  readonly instanceId: string;
  readonly now: string;
}

export interface ScheduleInstance extends Addressed {
  readonly type: typeof InstanceCommandType.ScheduleInstance;
  readonly service: string;
  readonly version: number;
  readonly nodeId: string;
  readonly resources: Resources;
  readonly pool: string;
  readonly spot: boolean;
}
export interface ReportStarting extends Addressed {
  readonly type: typeof InstanceCommandType.ReportStarting;
  readonly service: string;
  readonly nodeId: string;
  readonly restartCount: number;
}
export interface ReportReady extends Addressed {
  readonly type: typeof InstanceCommandType.ReportReady;
  readonly service: string;
  readonly version: number;
  readonly nodeId: string;
  readonly endpoint: string;
}
export interface ReportUnhealthy extends Addressed {
  readonly type: typeof InstanceCommandType.ReportUnhealthy;
  readonly service: string;
  readonly reason: string;
}
export interface ReportExited extends Addressed {
  readonly type: typeof InstanceCommandType.ReportExited;
  readonly service: string;
  readonly exitCode: number;
  readonly signal: string;
  readonly reason: string;
  readonly restartCount: number;
}
export interface DrainInstance extends Addressed {
  readonly type: typeof InstanceCommandType.DrainInstance;
  readonly service: string;
}
export interface ReportStopped extends Addressed {
  readonly type: typeof InstanceCommandType.ReportStopped;
  /** Taken from the stream when it knows the service; needed for an instance never scheduled. */
  readonly service?: string;
  /** The node it stopped on; "" when not known (the deployer records a stop its node could not report). */
  readonly nodeId: string;
  readonly reason: string;
  /** Only when the instance is placed on this node (a stale stop from a node it left records nothing). */
  readonly onlyOnNode?: string;
}
export interface FailInstance extends Addressed {
  readonly type: typeof InstanceCommandType.FailInstance;
  /** Taken from the stream when it knows the service; needed for an instance never scheduled. */
  readonly service?: string;
  readonly reason: string;
  /** Only when the instance is placed on this node (the lost-node monitor fails what a lost node holds). */
  readonly onlyOnNode?: string;
}

export interface MarkLost extends Addressed {
  readonly type: typeof InstanceCommandType.MarkLost;
  readonly reason: string;
  /** Only when the instance is placed on this node (the lost node's). */
  readonly onlyOnNode?: string;
}

export interface RequestMove extends Addressed {
  readonly type: typeof InstanceCommandType.RequestMove;
  readonly cause: MoveCause;
  readonly reason: string;
  /** For a reclaim: the ISO time the node goes away. */
  readonly deadline?: string;
  /** Only when the instance is placed on this node (the reclaimed node's, the restarted agent's). */
  readonly onlyOnNode?: string;
}

export type InstanceCommand =
  | ScheduleInstance
  | ReportStarting
  | ReportReady
  | ReportUnhealthy
  | ReportExited
  | DrainInstance
  | ReportStopped
  | FailInstance
  | MarkLost
  | RequestMove;

/** A move of a stronger cause replaces a weaker one's (a reclaim overrides a rebalance); an equal or weaker one is settled. */
const MOVE_STRENGTH: Readonly<Record<string, number>> = {
  "": 0,
  [MoveCause.Rebalance]: 1,
  [MoveCause.Orphaned]: 2,
  [MoveCause.Reclaim]: 3,
};

/**
 * A command that would move the instance where the state machine does not allow: a Ready or an exit for a
 * Draining instance, anything but an end for one that has ended. Nothing is written. `from` says where the
 * instance is: when it is Draining, Stopped or Failed (`isLeavingService`), the reporter (the agent) stops
 * the process. FAILED_PRECONDITION over gRPC.
 */
export class InstanceTransitionRefused extends PreconditionFailedError {
  readonly instanceId: string;
  readonly from: InstancePhase;
  readonly to: InstancePhase;
  constructor(instanceId: string, from: InstancePhase, to: InstancePhase) {
    super(
      hasEnded(from)
        ? `instance ${instanceId} is ${from}: nothing may follow (refused ${to})`
        : `instance ${instanceId} is ${from}: it cannot become ${to}`,
    );
    this.instanceId = instanceId;
    this.from = from;
    this.to = to;
  }
}

/** ScheduleInstance for an id whose life is over: a placement needs a new instance id. */
export class InstanceAlreadyEnded extends PreconditionFailedError {
  readonly instanceId: string;
  constructor(instanceId: string) {
    super(`instance ${instanceId} was already placed and has ended; place a new instance id`);
    this.instanceId = instanceId;
  }
}

function eventFor(command: InstanceCommand, state: InstanceLifecycle): InstanceEvent {
  const { instanceId, now: at } = command;
  switch (command.type) {
    case InstanceCommandType.ScheduleInstance:
      return event("InstanceScheduled", {
        instanceId,
        service: command.service,
        version: command.version,
        nodeId: command.nodeId,
        resources: { ...command.resources },
        pool: command.pool,
        spot: command.spot,
        at,
      });
    case InstanceCommandType.ReportStarting:
      return event("InstanceStarting", {
        instanceId,
        service: command.service,
        nodeId: command.nodeId,
        restartCount: command.restartCount,
        at,
      });
    case InstanceCommandType.ReportReady:
      return event("InstanceReady", {
        instanceId,
        service: command.service,
        version: command.version,
        nodeId: command.nodeId,
        endpoint: command.endpoint,
        at,
      });
    case InstanceCommandType.ReportUnhealthy:
      return event("InstanceUnhealthy", { instanceId, service: command.service, reason: command.reason, at });
    case InstanceCommandType.ReportExited:
      return event("InstanceExited", {
        instanceId,
        service: command.service,
        exitCode: command.exitCode,
        signal: command.signal,
        reason: command.reason,
        restartCount: command.restartCount,
        at,
      });
    case InstanceCommandType.DrainInstance:
      return event("InstanceDraining", { instanceId, service: command.service, at });
    case InstanceCommandType.ReportStopped:
      return event("InstanceStopped", {
        instanceId,
        service: state.service || (command.service ?? ""),
        nodeId: command.nodeId,
        reason: command.reason,
        at,
      });
    case InstanceCommandType.FailInstance:
      return event("InstanceFailed", { instanceId, service: state.service || (command.service ?? ""), reason: command.reason, at });
    case InstanceCommandType.MarkLost:
      return event("InstanceLost", { instanceId, service: state.service, nodeId: state.nodeId, reason: command.reason, at });
    case InstanceCommandType.RequestMove:
      return event("InstanceMoveRequested", {
        instanceId,
        service: state.service,
        nodeId: state.nodeId,
        cause: command.cause,
        reason: command.reason,
        deadline: command.deadline ?? "",
        at,
      });
  }
}

/** Commands that record nothing, rather than being refused, once the instance is already there or past it. */
function isSettled(command: InstanceCommand, state: InstanceLifecycle): boolean {
  switch (command.type) {
    case InstanceCommandType.ScheduleInstance:
      // A retried placement: the state says where the instance is.
      return state.phase !== InstancePhase.Absent;
    case InstanceCommandType.DrainInstance:
      return state.phase === InstancePhase.Draining || hasEnded(state.phase);
    case InstanceCommandType.ReportStopped:
    case InstanceCommandType.FailInstance:
      return hasEnded(state.phase) || (command.onlyOnNode !== undefined && state.nodeId !== command.onlyOnNode);
    case InstanceCommandType.MarkLost:
      // A draining instance is on its way out anyway (the deployer records its stop); one never placed is unknown.
      return (
        state.phase === InstancePhase.Absent ||
        state.phase === InstancePhase.Lost ||
        isLeavingService(state.phase) ||
        (command.onlyOnNode !== undefined && state.nodeId !== command.onlyOnNode)
      );
    case InstanceCommandType.RequestMove:
      return (
        state.phase === InstancePhase.Absent ||
        isLeavingService(state.phase) ||
        (MOVE_STRENGTH[state.moveCause] ?? 0) >= (MOVE_STRENGTH[command.cause] ?? 0) ||
        (command.onlyOnNode !== undefined && state.nodeId !== command.onlyOnNode)
      );
    default:
      return false;
  }
}

/**
 * The instance lifecycle as a decider: every writer of an instance stream (scheduler, agent, deployer) goes
 * through it, with `executeCommand` (expected revision = the revision it decided on). It writes a legal
 * transition of the state machine ({@link TRANSITIONS}) and nothing else:
 * - draining an instance that is draining or has ended, stopping or failing one that has ended (or that is
 *   placed on another node than `onlyOnNode`), and scheduling one already scheduled record nothing;
 * - marking Lost one that is Lost, leaving service or elsewhere, and requesting a move of one already moving for
 *   an equal or stronger cause (or leaving service) record nothing;
 * - scheduling an instance whose life is over throws {@link InstanceAlreadyEnded};
 * - any other illegal move throws {@link InstanceTransitionRefused} (a Ready for a Draining instance).
 */
export const instanceLifecycleDecider: Decider<InstanceCommand, InstanceEvent, InstanceLifecycle> = {
  initialState: () => absentInstance(),
  evolve: (state, e) => (isInstanceEvent(e) ? evolveInstance(state, e) : state),
  decide(command, state) {
    if (command.type === InstanceCommandType.ScheduleInstance && hasEnded(state.phase)) {
      throw new InstanceAlreadyEnded(command.instanceId);
    }
    if (isSettled(command, state)) return [];
    const next = eventFor(command, state);
    if (next.type === "eas.v1.InstanceMoveRequested") return [next];
    const to = PHASE_OF_EVENT[(next as InstancePhaseEvent).type];
    if (!canMove(state.phase, to)) throw new InstanceTransitionRefused(command.instanceId, state.phase, to);
    return [next];
  },
};

import { canMove, InstancePhase, isLeavingService, PHASE_OF_EVENT, type InstanceEvent } from "./phase.js";

/**
 * One instance as its stream tells it, folded by {@link evolveInstance}. Plain JSON (projection snapshots
 * hold it as is). Fields an event has not set yet are "" / 0 / false.
 */
export interface InstanceLifecycle {
  readonly instanceId: string;
  readonly phase: InstancePhase;
  readonly service: string;
  /** The service version it runs (from InstanceScheduled, or InstanceReady). */
  readonly version: number;
  readonly nodeId: string;
  /** "dedicated" or "public": the pool of its node when it was scheduled. */
  readonly pool: string;
  /** Placed on a spot (preemptible) node. */
  readonly spot: boolean;
  /** ISO time of InstanceScheduled: the instance's age, for "newest first". */
  readonly scheduledAt: string;
  /** host:port it serves on, from its latest InstanceReady. */
  readonly endpoint: string;
  /** Restarts so far, as the agent counts them. */
  readonly restartCount: number;
  /**
   * Why it is not serving: the latest Unhealthy, Exited, Stopped or Failed reason. Kept through the
   * Starting that follows an exit (so "restarted 2 times: <why>" stays true), cleared by Ready.
   */
  readonly reason: string;
  /** ISO time of the event that moved it to its phase. */
  readonly since: string;
  /** It was Ready at least once. */
  readonly everReady: boolean;
  /** It was Ready when its node was lost: it may still serve, so the gateway keeps routing to it ({@link isRoutable}). */
  readonly lostWhileReady: boolean;
  /** Set once a move is requested (InstanceMoveRequested): "rebalance", "reclaim" or "orphaned"; "" otherwise. */
  readonly moveCause: string;
  /** Why it moves, in words; "" when it does not. */
  readonly moveReason: string;
  /** For a reclaim: the ISO time its node goes away; "" otherwise. */
  readonly moveDeadline: string;
}

/** The state before an instance's first event. */
export function absentInstance(instanceId = ""): InstanceLifecycle {
  return {
    instanceId,
    phase: InstancePhase.Absent,
    service: "",
    version: 0,
    nodeId: "",
    pool: "",
    spot: false,
    scheduledAt: "",
    endpoint: "",
    restartCount: 0,
    reason: "",
    since: "",
    everReady: false,
    lostWhileReady: false,
    moveCause: "",
    moveReason: "",
    moveDeadline: "",
  };
}

/**
 * Whether the gateway sends requests to the instance: it is Ready, or it was Ready when its node was lost
 * (the process may well still answer; a connection that fails gets the request retried elsewhere).
 */
export function isRoutable(instance: Pick<InstanceLifecycle, "phase" | "lostWhileReady">): boolean {
  return instance.phase === InstancePhase.Ready || (instance.phase === InstancePhase.Lost && instance.lostWhileReady);
}

/**
 * The one fold of an instance stream, for every reader (the deployer's views, the gateway's routes, the
 * scheduler's allocations) and for the decider. An event the state machine does not allow from the current
 * phase (a Ready after Draining, anything after Stopped or Failed, a second InstanceScheduled) is ignored:
 * the very same state object is returned, so a caller can tell with `===` that nothing changed.
 * Older logs hold such events (written before every writer went through the decider); no reader may see an
 * instance come back to life because of them.
 */
export function evolveInstance(state: InstanceLifecycle, event: InstanceEvent): InstanceLifecycle {
  if (event.type === "eas.v1.InstanceMoveRequested") {
    // A mark, not a move: only a live instance that still serves can be moved.
    if (state.phase === InstancePhase.Absent || isLeavingService(state.phase)) return state;
    const { cause, reason, deadline } = event.data;
    return { ...state, moveCause: cause, moveReason: reason, moveDeadline: deadline };
  }
  const phase = PHASE_OF_EVENT[event.type];
  if (!canMove(state.phase, phase)) return state;
  const { data } = event;
  const moved: InstanceLifecycle = {
    ...state,
    instanceId: data.instanceId,
    service: data.service || state.service,
    phase,
    since: data.at,
  };
  switch (event.type) {
    case "eas.v1.InstanceScheduled":
      return {
        ...moved,
        version: event.data.version,
        nodeId: event.data.nodeId,
        pool: event.data.pool,
        spot: event.data.spot,
        scheduledAt: event.data.at,
      };
    case "eas.v1.InstanceStarting":
      return { ...moved, nodeId: event.data.nodeId || state.nodeId, restartCount: event.data.restartCount };
    case "eas.v1.InstanceReady":
      return {
        ...moved,
        version: event.data.version || state.version,
        nodeId: event.data.nodeId || state.nodeId,
        endpoint: event.data.endpoint,
        reason: "",
        everReady: true,
        lostWhileReady: false,
      };
    case "eas.v1.InstanceExited":
      return { ...moved, reason: event.data.reason, restartCount: event.data.restartCount };
    case "eas.v1.InstanceUnhealthy":
    case "eas.v1.InstanceFailed":
      return { ...moved, reason: event.data.reason };
    case "eas.v1.InstanceStopped":
      return { ...moved, reason: event.data.reason };
    case "eas.v1.InstanceLost":
      return { ...moved, reason: event.data.reason, lostWhileReady: state.phase === InstancePhase.Ready };
    case "eas.v1.InstanceDraining":
      return moved;
  }
}

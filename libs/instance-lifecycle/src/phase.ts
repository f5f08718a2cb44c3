import type { EasEvent, EventOf } from "@eas/events";

/** Where an instance is in its life; each instance event moves it to one phase. */
export const InstancePhase = {
  /** Nothing recorded yet: the instance's stream does not exist. */
  Absent: "Absent",
  /** Placed on a node (scheduler); its agent has not started it yet. */
  Scheduled: "Scheduled",
  /** Its process is starting, or restarting after an exit (agent). */
  Starting: "Starting",
  /** Passes its readiness probe: the gateway routes to it (agent). */
  Ready: "Ready",
  /** Its readiness probe fails: the gateway does not route to it (agent). */
  Unhealthy: "Unhealthy",
  /** Its process ended on its own; the agent restarts it after a back-off (agent). */
  Exited: "Exited",
  /**
   * Its node stopped heartbeating (scheduler). The process may still run and answer: the gateway keeps routing
   * to one that was Ready until the deployer has replaced it and drains it. Not an end.
   */
  Lost: "Lost",
  /** Being taken out of service (deployer): no new requests; stopped after the drain period. */
  Draining: "Draining",
  /** Ended on purpose. Final. */
  Stopped: "Stopped",
  /** Ended by a failure (launch failed, restarts given up on, node or agent lost). Final. */
  Failed: "Failed",
} as const;
export type InstancePhase = (typeof InstancePhase)[keyof typeof InstancePhase];

/** The events of an instance stream that move it to a phase. */
export type InstancePhaseEvent =
  | EventOf<"eas.v1.InstanceScheduled">
  | EventOf<"eas.v1.InstanceStarting">
  | EventOf<"eas.v1.InstanceReady">
  | EventOf<"eas.v1.InstanceUnhealthy">
  | EventOf<"eas.v1.InstanceExited">
  | EventOf<"eas.v1.InstanceDraining">
  | EventOf<"eas.v1.InstanceStopped">
  | EventOf<"eas.v1.InstanceFailed">
  | EventOf<"eas.v1.InstanceLost">;

/** Every event of an instance stream ("instance-<id>"): the phase events and the move mark (no phase change). */
export type InstanceEvent = InstancePhaseEvent | EventOf<"eas.v1.InstanceMoveRequested">;

/** The phase each phase event moves an instance to. */
export const PHASE_OF_EVENT: Readonly<Record<InstancePhaseEvent["type"], InstancePhase>> = {
  "eas.v1.InstanceScheduled": InstancePhase.Scheduled,
  "eas.v1.InstanceStarting": InstancePhase.Starting,
  "eas.v1.InstanceReady": InstancePhase.Ready,
  "eas.v1.InstanceUnhealthy": InstancePhase.Unhealthy,
  "eas.v1.InstanceExited": InstancePhase.Exited,
  "eas.v1.InstanceDraining": InstancePhase.Draining,
  "eas.v1.InstanceStopped": InstancePhase.Stopped,
  "eas.v1.InstanceFailed": InstancePhase.Failed,
  "eas.v1.InstanceLost": InstancePhase.Lost,
};

const { Absent, Scheduled, Starting, Ready, Unhealthy, Exited, Lost, Draining, Stopped, Failed } = InstancePhase;

/**
 * The instance lifecycle as a state machine: the phases each phase may move to. Everything else is illegal:
 * writers are refused it (`instanceLifecycleDecider`) and readers ignore it (`evolveInstance`). In words:
 * nothing follows Stopped or Failed; a Draining instance can only end (never Ready again); an instance is
 * scheduled once, as its first event; Stopped and Failed are reachable from every live phase. Every live phase
 * but Draining may become Lost (its node went silent), and a Lost instance's agent may still report on it.
 * `Absent` accepts Starting too: an agent may run an instance the scheduler did not place (tests, by hand).
 */
export const TRANSITIONS: Readonly<Record<InstancePhase, readonly InstancePhase[]>> = {
  [Absent]: [Scheduled, Starting, Stopped, Failed],
  [Scheduled]: [Starting, Lost, Draining, Stopped, Failed],
  [Starting]: [Ready, Unhealthy, Exited, Lost, Draining, Stopped, Failed],
  [Ready]: [Unhealthy, Exited, Lost, Draining, Stopped, Failed],
  // Unhealthy -> Unhealthy: a new reason (a probe that failed differently) is news, not a move.
  [Unhealthy]: [Ready, Unhealthy, Exited, Lost, Draining, Stopped, Failed],
  [Exited]: [Starting, Lost, Draining, Stopped, Failed],
  // Its agent came back or was only cut off: what it reports still counts.
  [Lost]: [Ready, Unhealthy, Exited, Draining, Stopped, Failed],
  [Draining]: [Stopped, Failed],
  [Stopped]: [],
  [Failed]: [],
};

/** Whether the state machine allows moving from `from` to `to`. */
export function canMove(from: InstancePhase, to: InstancePhase): boolean {
  return TRANSITIONS[from].includes(to);
}

/** Stopped or Failed: the instance's life is over, and nothing may follow. */
export function hasEnded(phase: InstancePhase): boolean {
  return phase === Stopped || phase === Failed;
}

/** Draining, Stopped or Failed: the log no longer wants this instance to serve or to restart. */
export function isLeavingService(phase: InstancePhase): boolean {
  return phase === Draining || hasEnded(phase);
}

export function isInstanceEvent(event: EasEvent): event is InstanceEvent {
  return Object.hasOwn(PHASE_OF_EVENT, event.type) || event.type === "eas.v1.InstanceMoveRequested";
}

/** Why an instance is replaced on another node (InstanceMoveRequested's `cause`). */
export const MoveCause = {
  /** Replicas of its service share its node while another node fits one: spread them. One move at a time. */
  Rebalance: "rebalance",
  /** Its spot node is reclaimed at a deadline: replaced at once, drained before the deadline. */
  Reclaim: "reclaim",
  /** Left running by an agent that restarted (its output is no longer read): replaced at once, then stopped. */
  Orphaned: "orphaned",
} as const;
export type MoveCause = (typeof MoveCause)[keyof typeof MoveCause];

/** Rebalance moves wait their turn; a reclaim or an orphan must be replaced now. */
export function isUrgentMove(cause: string): boolean {
  return cause === MoveCause.Reclaim || cause === MoveCause.Orphaned;
}

export {
  InstancePhase,
  PHASE_OF_EVENT,
  TRANSITIONS,
  canMove,
  hasEnded,
  isInstanceEvent,
  isLeavingService,
  isUrgentMove,
  MoveCause,
  type InstanceEvent,
  type InstancePhaseEvent,
} from "./phase.js";
export { absentInstance, evolveInstance, isRoutable, type InstanceLifecycle } from "./lifecycle.js";
export {
  InstanceAlreadyEnded,
  InstanceCommandType,
  InstanceTransitionRefused,
  instanceLifecycleDecider,
  type DrainInstance,
  type FailInstance,
  type InstanceCommand,
  type MarkLost,
  type RequestMove,
  type ReportExited,
  type ReportReady,
  type ReportStarting,
  type ReportStopped,
  type ReportUnhealthy,
  type ScheduleInstance,
} from "./decider.js";
export { scaleInOrder, type ScaleInCandidate } from "./scale-in.js";

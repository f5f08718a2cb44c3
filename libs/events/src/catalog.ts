import {
  AlertFired,
  AlertResolved,
  AlertRuleCreated,
  AlertRuleDeleted,
  AlertWebhookDelivered,
  AlertWebhookFailed,
  AutoscalerPolicyDeleted,
  AutoscalerPolicySet,
  CronScaleJobRan,
  CronScaleJobsDeleted,
  CronScaleJobsSet,
  BudgetDeleted,
  BudgetSet,
  BudgetThresholdReached,
  BudgetWebhookDelivered,
  BudgetWebhookFailed,
  BatchJobCancelled,
  BatchJobCompleted,
  BatchJobFailed,
  BatchJobSubmitted,
  InstanceDraining,
  InstanceExited,
  InstanceFailed,
  InstanceLost,
  InstanceMoveRequested,
  InstanceReady,
  InstanceScheduled,
  InstanceStarting,
  InstanceStopped,
  InstanceUnhealthy,
  NodeCordoned,
  NodeLost,
  NodeReclaimed,
  NodeReclaimNoticed,
  NodeRegistered,
  NodeUncordoned,
  ServiceCreated,
  ServiceDeleted,
  ServiceDeploymentFailed,
  ServicePlacementBlocked,
  ScaleDecided,
  ServiceRolledBack,
  ServiceScaled,
  ServiceStarted,
  ServiceStopped,
  ServiceUpdated,
  ServiceVersionAdded,
  CanaryStarted,
  CanaryWeightChanged,
  CanaryPromoted,
  CanaryAborted,
  ReleasePlanStarted,
  ReleaseStepStarted,
  ReleaseStepMeasured,
  MirrorSet,
  MirrorRemoved,
  ServiceGroupCreated,
  ServiceGroupUpdated,
  ServiceGroupDeleted,
  StressStepCompleted,
  StressTaskCreated,
  StressTaskFinished,
  StressTaskStarted,
  StressTaskStopRequested,
} from "@eas/proto";

/** Typed explicitly: the generated MessageFns interface is not exported, so declarations could not name it. */
export interface EventMessages {
  ServiceCreated: typeof ServiceCreated;
  ServiceUpdated: typeof ServiceUpdated;
  ServiceRolledBack: typeof ServiceRolledBack;
  ServiceScaled: typeof ServiceScaled;
  ServiceStopped: typeof ServiceStopped;
  ServiceStarted: typeof ServiceStarted;
  ServiceDeleted: typeof ServiceDeleted;
  ServiceDeploymentFailed: typeof ServiceDeploymentFailed;
  ServicePlacementBlocked: typeof ServicePlacementBlocked;
  InstanceScheduled: typeof InstanceScheduled;
  InstanceStarting: typeof InstanceStarting;
  InstanceReady: typeof InstanceReady;
  InstanceUnhealthy: typeof InstanceUnhealthy;
  InstanceExited: typeof InstanceExited;
  InstanceDraining: typeof InstanceDraining;
  InstanceStopped: typeof InstanceStopped;
  InstanceFailed: typeof InstanceFailed;
  InstanceLost: typeof InstanceLost;
  InstanceMoveRequested: typeof InstanceMoveRequested;
  NodeRegistered: typeof NodeRegistered;
  NodeCordoned: typeof NodeCordoned;
  NodeUncordoned: typeof NodeUncordoned;
  NodeLost: typeof NodeLost;
  NodeReclaimNoticed: typeof NodeReclaimNoticed;
  NodeReclaimed: typeof NodeReclaimed;
  AlertRuleCreated: typeof AlertRuleCreated;
  AlertRuleDeleted: typeof AlertRuleDeleted;
  AlertFired: typeof AlertFired;
  AlertResolved: typeof AlertResolved;
  AlertWebhookDelivered: typeof AlertWebhookDelivered;
  AlertWebhookFailed: typeof AlertWebhookFailed;
  ServiceVersionAdded: typeof ServiceVersionAdded;
  CanaryStarted: typeof CanaryStarted;
  CanaryWeightChanged: typeof CanaryWeightChanged;
  CanaryPromoted: typeof CanaryPromoted;
  CanaryAborted: typeof CanaryAborted;
  ReleasePlanStarted: typeof ReleasePlanStarted;
  ReleaseStepStarted: typeof ReleaseStepStarted;
  ReleaseStepMeasured: typeof ReleaseStepMeasured;
  MirrorSet: typeof MirrorSet;
  MirrorRemoved: typeof MirrorRemoved;
  ServiceGroupCreated: typeof ServiceGroupCreated;
  ServiceGroupUpdated: typeof ServiceGroupUpdated;
  ServiceGroupDeleted: typeof ServiceGroupDeleted;
  AutoscalerPolicySet: typeof AutoscalerPolicySet;
  AutoscalerPolicyDeleted: typeof AutoscalerPolicyDeleted;
  ScaleDecided: typeof ScaleDecided;
  CronScaleJobsSet: typeof CronScaleJobsSet;
  CronScaleJobsDeleted: typeof CronScaleJobsDeleted;
  CronScaleJobRan: typeof CronScaleJobRan;
  BudgetSet: typeof BudgetSet;
  BudgetDeleted: typeof BudgetDeleted;
  BudgetThresholdReached: typeof BudgetThresholdReached;
  BudgetWebhookDelivered: typeof BudgetWebhookDelivered;
  BudgetWebhookFailed: typeof BudgetWebhookFailed;
  StressTaskCreated: typeof StressTaskCreated;
  StressTaskStarted: typeof StressTaskStarted;
  StressStepCompleted: typeof StressStepCompleted;
  StressTaskStopRequested: typeof StressTaskStopRequested;
  StressTaskFinished: typeof StressTaskFinished;
  BatchJobSubmitted: typeof BatchJobSubmitted;
  BatchJobCompleted: typeof BatchJobCompleted;
  BatchJobFailed: typeof BatchJobFailed;
  BatchJobCancelled: typeof BatchJobCancelled;
}

/** Every lifecycle event message, keyed by its short name; the event `type` is "eas.v1." + the key. */
export const EVENT_MESSAGES: EventMessages = {
  ServiceCreated,
  ServiceUpdated,
  ServiceRolledBack,
  ServiceScaled,
  ServiceStopped,
  ServiceStarted,
  ServiceDeleted,
  ServiceDeploymentFailed,
  ServicePlacementBlocked,
  InstanceScheduled,
  InstanceStarting,
  InstanceReady,
  InstanceUnhealthy,
  InstanceExited,
  InstanceDraining,
  InstanceStopped,
  InstanceFailed,
  InstanceLost,
  InstanceMoveRequested,
  NodeRegistered,
  NodeCordoned,
  NodeUncordoned,
  NodeLost,
  NodeReclaimNoticed,
  NodeReclaimed,
  // The monitor's events (proto/eas/v1/monitor_events.proto).
  AlertRuleCreated,
  AlertRuleDeleted,
  AlertFired,
  AlertResolved,
  AlertWebhookDelivered,
  AlertWebhookFailed,
  // Releases: canaries, release plans, mirroring, service groups (proto/eas/v1/release_events.proto).
  ServiceVersionAdded,
  CanaryStarted,
  CanaryWeightChanged,
  CanaryPromoted,
  CanaryAborted,
  ReleasePlanStarted,
  ReleaseStepStarted,
  ReleaseStepMeasured,
  MirrorSet,
  MirrorRemoved,
  ServiceGroupCreated,
  ServiceGroupUpdated,
  ServiceGroupDeleted,
  // The autoscaler's events (proto/eas/v1/autoscaler_events.proto).
  AutoscalerPolicySet,
  AutoscalerPolicyDeleted,
  ScaleDecided,
  CronScaleJobsSet,
  CronScaleJobsDeleted,
  CronScaleJobRan,
  BudgetSet,
  BudgetDeleted,
  BudgetThresholdReached,
  // Budget alerts posted by the monitor (proto/eas/v1/monitor_events.proto).
  BudgetWebhookDelivered,
  BudgetWebhookFailed,
  // Stress tests and their results (proto/eas/v1/stress_events.proto), written by the monitor.
  StressTaskCreated,
  StressTaskStarted,
  StressStepCompleted,
  StressTaskStopRequested,
  StressTaskFinished,
  // Offline batch jobs, written by the async-queue (proto/eas/v1/batch_events.proto).
  BatchJobSubmitted,
  BatchJobCompleted,
  BatchJobFailed,
  BatchJobCancelled,
};

export type EventName = keyof typeof EVENT_MESSAGES;
type MessageOf<K extends EventName> = ReturnType<(typeof EVENT_MESSAGES)[K]["fromJSON"]>;

/** A lifecycle event: a discriminated union on `type` ("eas.v1.ServiceCreated", ...). */
export type EasEvent = { [K in EventName]: { type: `eas.v1.${K}`; data: MessageOf<K> } }[EventName];
export type EventType = EasEvent["type"];
/** The event of one type: `EventOf<"eas.v1.ServiceCreated">`. */
export type EventOf<T extends EventType> = Extract<EasEvent, { type: T }>;

export const EVENT_TYPE_PREFIX = "eas.v1.";

/** Builds a typed event: `event("ServiceCreated", { ... })`. */
export function event<K extends EventName>(name: K, data: MessageOf<K>): EventOf<`eas.v1.${K}`> {
  return { type: `${EVENT_TYPE_PREFIX}${name}`, data } as EventOf<`eas.v1.${K}`>;
}

export function isKnownEventType(type: string): type is EventType {
  return type.startsWith(EVENT_TYPE_PREFIX) && Object.hasOwn(EVENT_MESSAGES, type.slice(EVENT_TYPE_PREFIX.length));
}

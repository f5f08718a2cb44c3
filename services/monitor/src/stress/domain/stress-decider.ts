import { AlreadyExistsError, NotFoundError, PreconditionFailedError, type Decider } from "@eas/decider";
import { event, type EventOf } from "@eas/events";
import type { StressStep, StressSummary, StressTaskSpec } from "@eas/proto";

export const TaskStatus = {
  starting: "Starting",
  running: "Running",
  stopping: "Stopping",
  completed: "Completed",
  stopped: "Stopped",
  failed: "Failed",
} as const;
export type TaskStatus = (typeof TaskStatus)[keyof typeof TaskStatus];
export type EndStatus = typeof TaskStatus.completed | typeof TaskStatus.stopped | typeof TaskStatus.failed;

export const isEnded = (status: TaskStatus): boolean =>
  status === TaskStatus.completed || status === TaskStatus.stopped || status === TaskStatus.failed;

/** Commands on one task (stream "stress-<task id>"). Time arrives with the command. */
export type StressCommand =
  | { type: "CreateTask"; taskId: string; spec: StressTaskSpec; workerService: string; now: string }
  | { type: "StartLoad"; taskId: string; workerIds: string[]; loadStartsAtMs: number; now: string }
  | { type: "CompleteStep"; taskId: string; step: StressStep }
  | { type: "RequestStop"; taskId: string; reason: string; now: string }
  | {
      type: "FinishTask";
      taskId: string;
      status: EndStatus;
      reason: string;
      summary: StressSummary | undefined;
      reportHtmlUrl: string;
      reportJsonUrl: string;
      now: string;
    };

export type StressEvent =
  | EventOf<"eas.v1.StressTaskCreated">
  | EventOf<"eas.v1.StressTaskStarted">
  | EventOf<"eas.v1.StressStepCompleted">
  | EventOf<"eas.v1.StressTaskStopRequested">
  | EventOf<"eas.v1.StressTaskFinished">;

export type StressState = { exists: false } | { exists: true; taskId: string; status: TaskStatus; lastStep: number };

function decide(command: StressCommand, state: StressState): StressEvent[] {
  if (command.type === "CreateTask") {
    if (state.exists) throw new AlreadyExistsError("stress task", command.taskId);
    return [
      event("StressTaskCreated", {
        taskId: command.taskId,
        spec: command.spec,
        workerService: command.workerService,
        createdAt: command.now,
      }),
    ];
  }
  if (!state.exists) throw new NotFoundError("stress task", command.taskId);
  switch (command.type) {
    case "StartLoad":
      if (state.status !== TaskStatus.starting) return [];
      return [
        event("StressTaskStarted", {
          taskId: state.taskId,
          workerIds: command.workerIds,
          loadStartsAtMs: command.loadStartsAtMs,
          startedAt: command.now,
        }),
      ];
    case "CompleteStep":
      // Steps come in order; a repeat (a retried write) adds nothing, nor does a step after the end.
      if (isEnded(state.status) || command.step.index <= state.lastStep) return [];
      return [event("StressStepCompleted", { taskId: state.taskId, step: command.step })];
    case "RequestStop":
      if (isEnded(state.status)) throw new PreconditionFailedError(`stress task ${state.taskId} has already ended (${state.status})`);
      if (state.status === TaskStatus.stopping) return [];
      return [event("StressTaskStopRequested", { taskId: state.taskId, reason: command.reason, requestedAt: command.now })];
    case "FinishTask":
      if (isEnded(state.status)) return [];
      return [
        event("StressTaskFinished", {
          taskId: state.taskId,
          status: command.status,
          reason: command.reason,
          summary: command.summary,
          reportHtmlUrl: command.reportHtmlUrl,
          reportJsonUrl: command.reportJsonUrl,
          finishedAt: command.now,
        }),
      ];
  }
}

function evolve(state: StressState, e: StressEvent): StressState {
  if (e.type === "eas.v1.StressTaskCreated") return { exists: true, taskId: e.data.taskId, status: TaskStatus.starting, lastStep: 0 };
  if (!state.exists) return state;
  switch (e.type) {
    case "eas.v1.StressTaskStarted":
      return { ...state, status: TaskStatus.running };
    case "eas.v1.StressStepCompleted":
      return { ...state, lastStep: e.data.step?.index ?? state.lastStep };
    case "eas.v1.StressTaskStopRequested":
      return { ...state, status: TaskStatus.stopping };
    case "eas.v1.StressTaskFinished":
      return { ...state, status: e.data.status as TaskStatus };
    default:
      return state;
  }
}

/** The stress task aggregate: created, started, its steps, stop asked, finished with its results. */
export const stressDecider: Decider<StressCommand, StressEvent, StressState> = {
  decide,
  evolve,
  initialState: () => ({ exists: false }),
};

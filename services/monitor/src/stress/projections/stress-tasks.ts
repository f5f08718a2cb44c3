import type { RecordedEvent } from "@eas/event-store";
import { decodeEvent, StreamCategory } from "@eas/events";
import type { Projection } from "@eas/projections";
import { StressTaskInfo } from "@eas/proto";
import { TaskStatus } from "../domain/stress-decider.js";

/** Every stress task by id, as the API shows it. */
export type StressTasksState = Record<string, StressTaskInfo>;

function update(state: StressTasksState, taskId: string, change: (task: StressTaskInfo) => StressTaskInfo): StressTasksState {
  const task = state[taskId];
  return task ? { ...state, [taskId]: change(task) } : state;
}

/** Stress tasks, their steps and results, from the log (stream category "stress"). */
export const stressTasksProjection: Projection<StressTasksState> = {
  name: "monitor-stress-tasks",
  version: 1,
  categories: [StreamCategory.stress],
  initialState: () => ({}),
  // Summaries hold histogram bytes: snapshots go through the proto JSON form.
  toSnapshot: (state) => Object.values(state).map((task) => StressTaskInfo.toJSON(task)),
  fromSnapshot: (snapshot) =>
    Object.fromEntries((snapshot as unknown[]).map((json) => StressTaskInfo.fromJSON(json)).map((task) => [task.id, task])),
  evolve(state: StressTasksState, recorded: RecordedEvent): StressTasksState {
    const e = decodeEvent(recorded);
    if (!e) return state;
    switch (e.type) {
      case "eas.v1.StressTaskCreated":
        return {
          ...state,
          [e.data.taskId]: {
            id: e.data.taskId,
            spec: e.data.spec,
            status: TaskStatus.starting,
            reason: "",
            workerService: e.data.workerService,
            workerIds: [],
            createdAt: e.data.createdAt,
            startedAt: "",
            finishedAt: "",
            loadStartsAtMs: 0,
            steps: [],
            summary: undefined,
            reportHtmlUrl: "",
            reportJsonUrl: "",
          },
        };
      case "eas.v1.StressTaskStarted":
        return update(state, e.data.taskId, (task) => ({
          ...task,
          status: TaskStatus.running,
          workerIds: e.data.workerIds,
          startedAt: e.data.startedAt,
          loadStartsAtMs: e.data.loadStartsAtMs,
        }));
      case "eas.v1.StressStepCompleted":
        return update(state, e.data.taskId, (task) => ({ ...task, steps: e.data.step ? [...task.steps, e.data.step] : task.steps }));
      case "eas.v1.StressTaskStopRequested":
        return update(state, e.data.taskId, (task) => ({ ...task, status: TaskStatus.stopping, reason: e.data.reason }));
      case "eas.v1.StressTaskFinished":
        return update(state, e.data.taskId, (task) => ({
          ...task,
          status: e.data.status,
          reason: e.data.reason,
          summary: e.data.summary,
          reportHtmlUrl: e.data.reportHtmlUrl,
          reportJsonUrl: e.data.reportJsonUrl,
          finishedAt: e.data.finishedAt,
        }));
      default:
        return state;
    }
  },
};

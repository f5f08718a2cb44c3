import { AlreadyExistsError, NotFoundError, PreconditionFailedError, type Decider } from "@eas/decider";
import { event, type EventOf } from "@eas/events";
import type { BatchCounts } from "./batch-lines.js";

/** Commands on a batch job (stream `batch-<job id>`). Time arrives with the command. */
export type BatchJobCommand =
  | { type: "SubmitBatchJob"; jobId: string; service: string; input: string; output: string; totalLines: number; now: string }
  | { type: "CompleteBatchJob"; jobId: string; counts: BatchCounts; now: string }
  | { type: "FailBatchJob"; jobId: string; reason: string; now: string }
  | { type: "CancelBatchJob"; jobId: string; now: string };

export type BatchJobEvent =
  | EventOf<"eas.v1.BatchJobSubmitted">
  | EventOf<"eas.v1.BatchJobCompleted">
  | EventOf<"eas.v1.BatchJobFailed">
  | EventOf<"eas.v1.BatchJobCancelled">;

export const BatchJobStatus = {
  none: "None",
  running: "Running",
  completed: "Completed",
  failed: "Failed",
  cancelled: "Cancelled",
} as const;
export type BatchJobStatus = (typeof BatchJobStatus)[keyof typeof BatchJobStatus];

export interface BatchJobState {
  status: BatchJobStatus;
  jobId: string;
  service: string;
  input: string;
  output: string;
  totalLines: number;
  submittedAt: string;
  finishedAt: string;
  reason: string;
  counts: BatchCounts | undefined;
}

export const initialBatchJob = (): BatchJobState => ({
  status: BatchJobStatus.none,
  jobId: "",
  service: "",
  input: "",
  output: "",
  totalLines: 0,
  submittedAt: "",
  finishedAt: "",
  reason: "",
  counts: undefined,
});

function running(state: BatchJobState, jobId: string, what: string): BatchJobState {
  if (state.status === BatchJobStatus.none) throw new NotFoundError("batch job", jobId);
  if (state.status !== BatchJobStatus.running) {
    throw new PreconditionFailedError(`batch job ${jobId} is ${state.status}: it cannot be ${what}`);
  }
  return state;
}

function decide(command: BatchJobCommand, state: BatchJobState): BatchJobEvent[] {
  switch (command.type) {
    case "SubmitBatchJob":
      if (state.status !== BatchJobStatus.none) throw new AlreadyExistsError("batch job", command.jobId);
      return [
        event("BatchJobSubmitted", {
          jobId: command.jobId,
          service: command.service,
          input: command.input,
          output: command.output,
          totalLines: command.totalLines,
          submittedAt: command.now,
        }),
      ];
    case "CompleteBatchJob": {
      // Completing twice (a runner that restarted after writing the output) records nothing the second time.
      if (state.status === BatchJobStatus.completed) return [];
      const job = running(state, command.jobId, "completed");
      const { ok, error, failed, invalid } = command.counts;
      return [
        event("BatchJobCompleted", {
          jobId: job.jobId,
          service: job.service,
          okLines: ok,
          errorLines: error,
          failedLines: failed,
          invalidLines: invalid,
          completedAt: command.now,
        }),
      ];
    }
    case "FailBatchJob": {
      if (state.status === BatchJobStatus.failed) return [];
      const job = running(state, command.jobId, "failed");
      return [event("BatchJobFailed", { jobId: job.jobId, service: job.service, reason: command.reason, failedAt: command.now })];
    }
    case "CancelBatchJob": {
      if (state.status === BatchJobStatus.cancelled) return [];
      const job = running(state, command.jobId, "cancelled");
      return [event("BatchJobCancelled", { jobId: job.jobId, service: job.service, cancelledAt: command.now })];
    }
  }
}

/** Folds one event into a job; the projection of every job (`projections/batch-jobs.ts`) uses it too. */
export function evolveBatchJob(state: BatchJobState, e: BatchJobEvent): BatchJobState {
  switch (e.type) {
    case "eas.v1.BatchJobSubmitted":
      return {
        ...state,
        status: BatchJobStatus.running,
        jobId: e.data.jobId,
        service: e.data.service,
        input: e.data.input,
        output: e.data.output,
        totalLines: e.data.totalLines,
        submittedAt: e.data.submittedAt,
      };
    case "eas.v1.BatchJobCompleted":
      return {
        ...state,
        status: BatchJobStatus.completed,
        finishedAt: e.data.completedAt,
        counts: { ok: e.data.okLines, error: e.data.errorLines, failed: e.data.failedLines, invalid: e.data.invalidLines },
      };
    case "eas.v1.BatchJobFailed":
      return { ...state, status: BatchJobStatus.failed, finishedAt: e.data.failedAt, reason: e.data.reason };
    case "eas.v1.BatchJobCancelled":
      return { ...state, status: BatchJobStatus.cancelled, finishedAt: e.data.cancelledAt, reason: "cancelled" };
  }
}

export function isBatchJobEvent(e: { type: string }): e is BatchJobEvent {
  return e.type.startsWith("eas.v1.BatchJob");
}

/** A batch job's lifecycle: submitted (Running), then Completed, Failed or Cancelled, each once. */
export const batchJobDecider: Decider<BatchJobCommand, BatchJobEvent, BatchJobState> = {
  decide,
  evolve: (state, e) => (isBatchJobEvent(e) ? evolveBatchJob(state, e) : state),
  initialState: initialBatchJob,
};

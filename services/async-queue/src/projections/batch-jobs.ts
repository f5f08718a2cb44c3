import type { RecordedEvent } from "@eas/event-store";
import { decodeEvent, StreamCategory } from "@eas/events";
import { evolveBatchJob, initialBatchJob, isBatchJobEvent, type BatchJobState } from "../domain/batch-job-decider.js";

export type BatchJobsState = Record<string, BatchJobState>;

/** Every batch job and where its lifecycle stands, folded with the job decider's own fold. */
export const batchJobsProjection = {
  name: "batch-jobs",
  version: 1,
  categories: [StreamCategory.batch],
  initialState: (): BatchJobsState => ({}),
  evolve(state: BatchJobsState, recorded: RecordedEvent): BatchJobsState {
    const e = decodeEvent(recorded);
    if (!e || !isBatchJobEvent(e)) return state;
    const jobId = e.data.jobId;
    return { ...state, [jobId]: evolveBatchJob(state[jobId] ?? initialBatchJob(), e) };
  },
};

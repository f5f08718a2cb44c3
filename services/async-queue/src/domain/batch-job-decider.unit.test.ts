import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { AlreadyExistsError, NotFoundError, PreconditionFailedError } from "@eas/decider";
import { deciderSpecification } from "@eas/decider/testing";
import { event } from "@eas/events";
import { batchJobDecider } from "./batch-job-decider.js";

const spec = deciderSpecification(batchJobDecider);
const now = "2026-12-04T10:00:00.000Z";
const later = "2026-12-04T10:05:00.000Z";
const submitted = event("BatchJobSubmitted", {
  jobId: "b1",
  service: "gen",
  input: "obj://in/a.jsonl",
  output: "obj://out/a.jsonl",
  totalLines: 3,
  submittedAt: now,
});
const counts = { ok: 2, error: 0, failed: 1, invalid: 0 };
const completed = event("BatchJobCompleted", {
  jobId: "b1",
  service: "gen",
  okLines: 2,
  errorLines: 0,
  failedLines: 1,
  invalidLines: 0,
  completedAt: later,
});

describe("batch job decider", () => {
  it("given nothing, when a job is submitted, then it is Submitted with its line count", () => {
    spec
      .given([])
      .when({
        type: "SubmitBatchJob",
        jobId: "b1",
        service: "gen",
        input: "obj://in/a.jsonl",
        output: "obj://out/a.jsonl",
        totalLines: 3,
        now,
      })
      .then([submitted]);
  });

  it("given a submitted job, when the same id is submitted again, then it already exists", () => {
    spec
      .given([submitted])
      .when({ type: "SubmitBatchJob", jobId: "b1", service: "gen", input: "x", output: "y", totalLines: 1, now })
      .thenThrows(AlreadyExistsError);
  });

  it("given a running job, when it completes, then Completed holds its counts; completing again records nothing", () => {
    spec.given([submitted]).when({ type: "CompleteBatchJob", jobId: "b1", counts, now: later }).then([completed]);
    spec.given([submitted, completed]).when({ type: "CompleteBatchJob", jobId: "b1", counts, now: later }).then([]);
  });

  it("given a running job, when it is cancelled, then Cancelled; a completed job cannot be cancelled", () => {
    spec
      .given([submitted])
      .when({ type: "CancelBatchJob", jobId: "b1", now: later })
      .then([event("BatchJobCancelled", { jobId: "b1", service: "gen", cancelledAt: later })]);
    spec
      .given([submitted, completed])
      .when({ type: "CancelBatchJob", jobId: "b1", now: later })
      .thenThrows(PreconditionFailedError, (error) => assert.match(error.message, /is Completed/));
  });

  it("given a cancelled job, when it is cancelled again or completed, then nothing is recorded or it is refused", () => {
    const cancelled = event("BatchJobCancelled", { jobId: "b1", service: "gen", cancelledAt: later });
    spec.given([submitted, cancelled]).when({ type: "CancelBatchJob", jobId: "b1", now: later }).then([]);
    spec
      .given([submitted, cancelled])
      .when({ type: "CompleteBatchJob", jobId: "b1", counts, now: later })
      .thenThrows(PreconditionFailedError);
  });

  it("given nothing, when an unknown job is cancelled or failed, then it is not found", () => {
    spec.given([]).when({ type: "CancelBatchJob", jobId: "nope", now }).thenThrows(NotFoundError);
    spec.given([]).when({ type: "FailBatchJob", jobId: "nope", reason: "x", now }).thenThrows(NotFoundError);
  });

  it("given a running job, when it fails, then Failed with the reason", () => {
    spec
      .given([submitted])
      .when({ type: "FailBatchJob", jobId: "b1", reason: "output bucket gone", now: later })
      .then([event("BatchJobFailed", { jobId: "b1", service: "gen", reason: "output bucket gone", failedAt: later })]);
  });
});

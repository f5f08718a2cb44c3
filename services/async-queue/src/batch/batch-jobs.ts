import { randomBytes } from "node:crypto";
import { NotFoundError, PreconditionFailedError, ValidationError } from "@eas/decider";
import type { EventStore } from "@eas/event-store";
import { batchStream } from "@eas/events";
import type { BatchJob, SubmitBatchRequest } from "@eas/proto";
import { executeCommand } from "@eas/service-kit";
import type { Logger } from "@eas/telemetry";
import { batchJobDecider, BatchJobStatus, type BatchJobCommand, type BatchJobState } from "../domain/batch-job-decider.js";
import type { AsyncServicesState } from "../projections/async-services.js";
import type { BatchJobsState } from "../projections/batch-jobs.js";
import { parseLocation, type BatchFiles } from "./batch-io.js";
import { BatchRunner, type BatchEnd, type BatchRunnerDeps } from "./batch-runner.js";

export interface BatchJobsOptions {
  store: EventStore;
  /** CloudEvents source of the job events, e.g. "eas/async-queue/3f2a". */
  source: string;
  services: () => AsyncServicesState;
  jobs: () => BatchJobsState;
  files: BatchFiles;
  runner: BatchRunnerDeps;
  logger: Logger;
  /** ISO time for commands. */
  now?: () => string;
  newJobId?: () => string;
}

/** A runner that throws (JetStream out of reach, the output unwritable) is started again this often before the job fails. */
const MAX_RUNNER_CRASHES = 5;

/**
 * Offline batch jobs: submitted through the API (checked before anything is written), run by one
 * {@link BatchRunner} each, resumed at start for every job the log says is running, and ended with an event
 * through the batch job decider.
 */
export class BatchJobs {
  readonly #options: BatchJobsOptions;
  readonly #runners = new Map<string, BatchRunner>();
  /** The state each command of this process left a job in: the projection may not have applied it yet. */
  readonly #recent = new Map<string, BatchJobState>();
  readonly #log: Logger;
  #stopped = false;

  constructor(options: BatchJobsOptions) {
    this.#options = options;
    this.#log = options.logger.child({ component: "batch" });
  }

  /** Starts a runner for every job the log says is running (after a restart). */
  resumeAll(): void {
    for (const job of Object.values(this.#options.jobs())) {
      if (job.status === BatchJobStatus.running) this.#run(job, { fresh: false });
    }
  }

  async submit(request: SubmitBatchRequest): Promise<BatchJob> {
    const service = this.#options.services()[request.service];
    if (request.service === "") throw new ValidationError([{ path: "service", message: "is required" }]);
    if (!service) throw new NotFoundError("service", request.service);
    if (!service.async) {
      throw new ValidationError([
        { path: "service", message: `${request.service} is a standard service: batch jobs run on async services (metadata.type "Async")` },
      ]);
    }
    const input = parseLocation(request.input, "input");
    const output = parseLocation(request.output, "output");
    if (input.url === output.url) throw new ValidationError([{ path: "output", message: "must differ from the input" }]);
    await this.#options.files.checkInput(input);
    await this.#options.files.checkOutput(output);
    const totalLines = await this.#options.files.countLines(input);
    const jobId = this.#options.newJobId?.() ?? `b${randomBytes(5).toString("hex")}`;
    const state = await this.#execute(jobId, {
      type: "SubmitBatchJob",
      jobId,
      service: request.service,
      input: input.url,
      output: output.url,
      totalLines,
      now: this.#now(),
    });
    this.#log.info({ job: jobId, service: request.service, lines: totalLines }, "batch job submitted");
    this.#run(state, { fresh: true });
    return this.view(state);
  }

  get(jobId: string): BatchJob {
    const job = this.#recent.get(jobId) ?? this.#options.jobs()[jobId];
    if (!job) throw new NotFoundError("batch job", jobId);
    return this.view(job);
  }

  list(service: string): BatchJob[] {
    return Object.values({ ...this.#options.jobs(), ...Object.fromEntries(this.#recent) })
      .filter((job) => service === "" || job.service === service)
      .sort((a, b) => a.submittedAt.localeCompare(b.submittedAt))
      .map((job) => this.view(job));
  }

  async cancel(jobId: string): Promise<BatchJob> {
    const state = await this.#execute(jobId, { type: "CancelBatchJob", jobId, now: this.#now() });
    const runner = this.#runners.get(jobId);
    this.#runners.delete(jobId);
    await runner?.discard();
    this.#log.info({ job: jobId }, "batch job cancelled");
    return this.view(state);
  }

  async stop(): Promise<void> {
    this.#stopped = true;
    await Promise.all([...this.#runners.values()].map((runner) => runner.stop()));
    this.#runners.clear();
  }

  /** The job as the API shows it: its lifecycle from the log, its progress from its runner. */
  view(job: BatchJobState): BatchJob {
    const progress = this.#runners.get(job.jobId)?.progress();
    const counts = job.counts ?? progress?.counts ?? { ok: 0, error: 0, failed: 0, invalid: 0 };
    const done = job.status === BatchJobStatus.completed ? job.totalLines : (progress?.done ?? 0);
    return {
      jobId: job.jobId,
      service: job.service,
      input: job.input,
      output: job.output,
      state: job.status,
      reason: job.reason,
      totalLines: job.totalLines,
      doneLines: done,
      okLines: counts.ok,
      errorLines: counts.error,
      failedLines: counts.failed,
      invalidLines: counts.invalid,
      linesPerSecond: progress?.linesPerSecond ?? 0,
      submittedAt: job.submittedAt,
      finishedAt: job.finishedAt,
    };
  }

  #run(job: BatchJobState, { fresh, crashes = 0 }: { fresh: boolean; crashes?: number }): void {
    if (this.#stopped || this.#runners.has(job.jobId)) return;
    const runner = new BatchRunner(
      {
        jobId: job.jobId,
        service: job.service,
        input: parseLocation(job.input, "input"),
        output: parseLocation(job.output, "output"),
        totalLines: job.totalLines,
        fresh,
      },
      this.#options.runner,
    );
    this.#runners.set(job.jobId, runner);
    runner.start().then(
      (end) => this.#finish(job.jobId, runner, end),
      (error: unknown) => {
        if (this.#runners.get(job.jobId) !== runner) return;
        this.#runners.delete(job.jobId);
        const reason = error instanceof Error ? error.message : String(error);
        if (crashes + 1 >= MAX_RUNNER_CRASHES) {
          void this.#finish(job.jobId, runner, { kind: "failed", reason });
          return;
        }
        this.#log.warn({ job: job.jobId, err: reason }, "batch runner failed; starting it again in 2 s");
        setTimeout(() => this.#run(job, { fresh: false, crashes: crashes + 1 }), 2_000).unref();
      },
    );
  }

  async #finish(jobId: string, runner: BatchRunner, end: BatchEnd): Promise<void> {
    if (end.kind === "stopped") return;
    try {
      const command: BatchJobCommand =
        end.kind === "completed"
          ? { type: "CompleteBatchJob", jobId, counts: end.counts, now: this.#now() }
          : { type: "FailBatchJob", jobId, reason: end.reason, now: this.#now() };
      await this.#execute(jobId, command);
      this.#log.info({ job: jobId, end: end.kind, ...(end.kind === "completed" ? end.counts : { reason: end.reason }) }, "batch job ended");
    } catch (error) {
      // Cancelled meanwhile (PreconditionFailed): the cancel has the last word.
      if (!(error instanceof PreconditionFailedError))
        this.#log.error({ job: jobId, err: String(error) }, "could not record the end of a batch job");
    } finally {
      if (this.#runners.get(jobId) === runner) this.#runners.delete(jobId);
    }
  }

  async #execute(jobId: string, command: BatchJobCommand): Promise<BatchJobState> {
    const result = await executeCommand({
      store: this.#options.store,
      stream: batchStream(jobId),
      decider: batchJobDecider,
      command,
      source: this.#options.source,
    });
    this.#recent.set(jobId, result.state);
    return result.state;
  }

  #now(): string {
    return this.#options.now?.() ?? new Date().toISOString();
  }
}

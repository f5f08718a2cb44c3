import type { Logger } from "@eas/telemetry";
import type { CronCommand } from "../domain/cron-decider.js";
import { cronDue } from "../domain/cron-schedule.js";
import type { AutoscalerView } from "../projections/autoscaler-view.js";
import type { ReplicaSetter } from "./deployer-client.js";

export interface CronRunnerDeps {
  view(): AutoscalerView;
  replicas: ReplicaSetter;
  /** Records a run on the service's cronscale stream (executeCommand); resolves whether it was written. */
  record(service: string, command: CronCommand): Promise<boolean>;
  /** The count the deployer holds (the scaler's view of it). */
  current(service: string): number | undefined;
  /** A policy applies: the new floor takes effect through a scaling decision now. */
  applyFloor(service: string): void;
  logger: Logger;
  now(): number;
  /** A time missed by more than this while no autoscaler ran is recorded Skipped instead of run. */
  catchUpMs: number;
}

/**
 * Runs the scheduled scaling jobs, once a second, while this process is the active autoscaler. A job due
 * sets the replica count (cause "cron") when the service has no autoscaling policy, and the policy's floor
 * when it has one (the autoscaler scales above it with load, never below). Each run is recorded once
 * (`cronDecider` refuses a scheduled time at or before the latest one recorded), with its state and message.
 */
export class CronRunner {
  readonly #deps: CronRunnerDeps;
  /** Runs in progress, by "<service>/<job>": a slow deployer call never starts the same run twice. */
  readonly #running = new Set<string>();

  constructor(deps: CronRunnerDeps) {
    this.#deps = deps;
  }

  tick(): void {
    const now = new Date(this.#deps.now());
    for (const [service, scaled] of Object.entries(this.#deps.view())) {
      if (!scaled.cron) continue;
      for (const job of scaled.cron.jobs) {
        const key = `${service}/${job.name}`;
        if (this.#running.has(key)) continue;
        const due = cronDue(job, {
          lastRunAt: scaled.cron.runs[job.name]?.scheduledAt,
          setAt: scaled.cron.setAt,
          excludeDates: scaled.cron.excludeDates,
          now,
          catchUpMs: this.#deps.catchUpMs,
          lateMs: 5_000,
        });
        if (due.kind === "none") continue;
        this.#running.add(key);
        void this.#run(service, job.name, job.targetSize, due, Boolean(scaled.policy), scaled.stopped)
          .catch((error: unknown) => this.#deps.logger.warn({ err: error, service, job: job.name }, "cron run failed to record"))
          .finally(() => this.#running.delete(key));
      }
    }
  }

  async #run(
    service: string,
    job: string,
    targetSize: number,
    due: Exclude<ReturnType<typeof cronDue>, { kind: "none" }>,
    withPolicy: boolean,
    stopped: boolean,
  ): Promise<void> {
    const record = (state: "Succeeded" | "Failed" | "Skipped", message: string) =>
      this.#deps.record(service, {
        type: "RecordCronRun",
        service,
        job,
        scheduledAt: due.scheduledAt.toISOString(),
        targetSize,
        state,
        message,
        now: new Date(this.#deps.now()).toISOString(),
      });
    if (due.kind === "skip") {
      await record("Skipped", due.message);
      return;
    }
    const late = due.late ? ` (run late, at resume: its time ${due.scheduledAt.toISOString()} passed while no autoscaler ran)` : "";
    if (withPolicy) {
      if (await record("Succeeded", `floor ${targetSize} while the autoscaling policy applies${late}`)) this.#deps.applyFloor(service);
      return;
    }
    if (stopped) {
      await record("Failed", `service ${service} is stopped`);
      return;
    }
    const before = this.#deps.current(service) ?? 0;
    const reason = `cron job ${job} -> ${targetSize}`;
    try {
      await this.#deps.replicas.scale(service, targetSize, "cron", reason);
      await record("Succeeded", `scaled ${before} -> ${targetSize}${late}`);
      this.#deps.logger.info({ service, job, from: before, to: targetSize }, "cron job ran");
    } catch (error) {
      await record("Failed", (error as { details?: string }).details ?? (error as Error).message);
    }
  }
}

import { NotFoundError, type Decider } from "@eas/decider";
import { event, type EventOf } from "@eas/events";
import type { CronScaleJob } from "@eas/proto";

export type CronRunState = "Succeeded" | "Failed" | "Skipped";

/** Commands on a service's scheduled scaling stream ("cronscale-<service>"). */
export type CronCommand =
  | { type: "SetCronJobs"; service: string; jobs: CronScaleJob[]; excludeDates: string[]; now: string }
  | { type: "DeleteCronJobs"; service: string; now: string }
  | {
      type: "RecordCronRun";
      service: string;
      job: string;
      scheduledAt: string;
      targetSize: number;
      state: CronRunState;
      message: string;
      now: string;
    };

export type CronEvent = EventOf<"eas.v1.CronScaleJobsSet"> | EventOf<"eas.v1.CronScaleJobsDeleted"> | EventOf<"eas.v1.CronScaleJobRan">;

export interface CronState {
  jobs: CronScaleJob[] | undefined;
  excludeDates: string[];
  /** The latest recorded run of each job, by name. */
  lastRunAt: Record<string, string>;
}

const sameJobs = (a: CronScaleJob[], b: CronScaleJob[], ax: string[], bx: string[]) => JSON.stringify([a, ax]) === JSON.stringify([b, bx]);

function decide(command: CronCommand, state: CronState): CronEvent[] {
  switch (command.type) {
    case "SetCronJobs":
      if (state.jobs && sameJobs(state.jobs, command.jobs, state.excludeDates, command.excludeDates)) return [];
      return [
        event("CronScaleJobsSet", { service: command.service, jobs: command.jobs, excludeDates: command.excludeDates, setAt: command.now }),
      ];
    case "DeleteCronJobs":
      if (!state.jobs) throw new NotFoundError("scheduled scaling jobs of service", command.service);
      return [event("CronScaleJobsDeleted", { service: command.service, deletedAt: command.now })];
    case "RecordCronRun": {
      // A run is recorded once: a scheduled time at or before the job's latest recorded run is not run again
      // (a restarted autoscaler, two of them for a moment, a retried write).
      if (!state.jobs?.some((job) => job.name === command.job)) return [];
      const last = state.lastRunAt[command.job];
      if (last !== undefined && Date.parse(last) >= Date.parse(command.scheduledAt)) return [];
      return [
        event("CronScaleJobRan", {
          service: command.service,
          job: command.job,
          scheduledAt: command.scheduledAt,
          ranAt: command.now,
          targetSize: command.targetSize,
          state: command.state,
          message: command.message,
        }),
      ];
    }
  }
}

function evolve(state: CronState, e: CronEvent): CronState {
  switch (e.type) {
    case "eas.v1.CronScaleJobsSet": {
      // Runs of jobs that stay (same name) are kept: replacing the list never re-runs a time already run.
      const names = new Set(e.data.jobs.map((job) => job.name));
      const lastRunAt = Object.fromEntries(Object.entries(state.lastRunAt).filter(([name]) => names.has(name)));
      return { jobs: e.data.jobs, excludeDates: e.data.excludeDates, lastRunAt };
    }
    case "eas.v1.CronScaleJobsDeleted":
      return { jobs: undefined, excludeDates: [], lastRunAt: {} };
    case "eas.v1.CronScaleJobRan":
      return { ...state, lastRunAt: { ...state.lastRunAt, [e.data.job]: e.data.scheduledAt } };
  }
}

/** A service's scheduled scaling jobs and the latest run of each. */
export const cronDecider: Decider<CronCommand, CronEvent, CronState> = {
  decide,
  evolve,
  initialState: () => ({ jobs: undefined, excludeDates: [], lastRunAt: {} }),
};

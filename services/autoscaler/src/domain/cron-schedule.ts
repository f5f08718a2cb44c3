import { Cron } from "croner";
import type { FieldViolation } from "@eas/decider";
import type { CronScaleJob } from "@eas/proto";
import { MAX_INSTANCES } from "@eas/service-spec";

const JOB_NAME = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$/;
const DATE = /^\d{4}-\d{2}-\d{2}$/;

/** Whether `zone` is an IANA time zone this runtime knows. */
export function isTimeZone(zone: string): boolean {
  try {
    new Intl.DateTimeFormat("en-US", { timeZone: zone });
    return true;
  } catch {
    return false;
  }
}

function schedule(job: CronScaleJob): Cron {
  return new Cron(job.schedule, { timezone: job.timeZone || "UTC", paused: true });
}

/**
 * Checks jobs as a user sent them: names (unique), six-field schedules (seconds first) that croner reads,
 * target sizes, time zones, and exclude dates (YYYY-MM-DD). Every bad field is named.
 */
export function cronJobViolations(jobs: CronScaleJob[], excludeDates: string[]): FieldViolation[] {
  const violations: FieldViolation[] = [];
  if (jobs.length === 0) violations.push({ path: "jobs", message: "at least one job is required (to remove them all, delete)" });
  const names = new Set<string>();
  jobs.forEach((job, index) => {
    const at = (field: string) => `jobs[${index}].${field}`;
    if (!JOB_NAME.test(job.name)) violations.push({ path: at("name"), message: "must be 1-64 of [A-Za-z0-9_.-], starting alphanumeric" });
    else if (names.has(job.name)) violations.push({ path: at("name"), message: `"${job.name}" is used by another job` });
    names.add(job.name);
    const fields = job.schedule.trim().split(/\s+/).filter(Boolean);
    if (fields.length !== 6) {
      violations.push({
        path: at("schedule"),
        message: `must have six fields, seconds first ("0 0 8 * * *" is 08:00:00 daily), got ${fields.length}: "${job.schedule}"`,
      });
    } else {
      try {
        schedule({ ...job, timeZone: "UTC" });
      } catch (error) {
        violations.push({ path: at("schedule"), message: `"${job.schedule}": ${(error as Error).message}` });
      }
    }
    if (job.targetSize > MAX_INSTANCES) violations.push({ path: at("target_size"), message: `must be at most ${MAX_INSTANCES}` });
    if (job.timeZone && !isTimeZone(job.timeZone)) {
      violations.push({ path: at("time_zone"), message: `unknown time zone "${job.timeZone}" (an IANA name such as "Asia/Shanghai")` });
    }
  });
  excludeDates.forEach((date, index) => {
    if (
      !DATE.test(date) ||
      Number.isNaN(Date.parse(`${date}T00:00:00Z`)) ||
      new Date(`${date}T00:00:00Z`).toISOString().slice(0, 10) !== date
    ) {
      violations.push({ path: `exclude_dates[${index}]`, message: `must be a date YYYY-MM-DD, got "${date}"` });
    }
  });
  return violations;
}

/** The job's next scheduled time after `after`; undefined when it has none. */
export function nextRunAfter(job: CronScaleJob, after: Date): Date | undefined {
  return schedule(job).nextRun(after) ?? undefined;
}

/** The job's latest scheduled time at or before `now`; undefined when it has none. */
export function latestRunAtOrBefore(job: CronScaleJob, now: Date): Date | undefined {
  // Schedules have whole seconds; croner's previousRuns leaves out the second `now` falls in, so ask for it first.
  const second = Math.floor(now.getTime() / 1000) * 1000;
  const cron = schedule(job);
  const atSecond = cron.nextRun(new Date(second - 1));
  if (atSecond && atSecond.getTime() === second) return atSecond;
  return cron.previousRuns(1, new Date(second))[0];
}

/** The calendar date (YYYY-MM-DD) of `at` in `zone`. */
export function localDate(at: Date, zone: string): string {
  const parts = new Intl.DateTimeFormat("en-CA", { timeZone: zone || "UTC", year: "numeric", month: "2-digit", day: "2-digit" }).format(at);
  return parts;
}

/** What to do about one job at `now`. */
export type CronDue =
  { kind: "none" } | { kind: "run"; scheduledAt: Date; late: boolean } | { kind: "skip"; scheduledAt: Date; message: string };

/**
 * Whether a job is due at `now`: its latest scheduled time after both its latest recorded run and the time
 * the jobs were set. A time missed while no autoscaler ran is run once at resume when it is no older than
 * `catchUpMs` (the latest one only: a cron job sets an absolute size, so the latest time decides it), and
 * recorded Skipped otherwise; a time on an excluded date is recorded Skipped.
 */
export function cronDue(
  job: CronScaleJob,
  options: { lastRunAt: string | undefined; setAt: string; excludeDates: readonly string[]; now: Date; catchUpMs: number; lateMs: number },
): CronDue {
  const latest = latestRunAtOrBefore(job, options.now);
  if (!latest) return { kind: "none" };
  const after = Math.max(options.lastRunAt ? Date.parse(options.lastRunAt) : 0, Date.parse(options.setAt) || 0);
  if (latest.getTime() <= after) return { kind: "none" };
  const date = localDate(latest, job.timeZone);
  if (options.excludeDates.includes(date)) return { kind: "skip", scheduledAt: latest, message: `${date} is an excluded date` };
  const lateBy = options.now.getTime() - latest.getTime();
  if (lateBy > options.catchUpMs) {
    return {
      kind: "skip",
      scheduledAt: latest,
      message: `missed by ${Math.round(lateBy / 1000)}s while no autoscaler ran, more than the catch-up limit of ${Math.round(options.catchUpMs / 1000)}s`,
    };
  }
  return { kind: "run", scheduledAt: latest, late: lateBy > options.lateMs };
}

import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { NotFoundError } from "@eas/decider";
import { deciderSpecification } from "@eas/decider/testing";
import { event } from "@eas/events";
import type { CronScaleJob } from "@eas/proto";
import { cronDecider } from "./cron-decider.js";
import { cronDue, cronJobViolations, latestRunAtOrBefore, nextRunAfter } from "./cron-schedule.js";

const job = (over: Partial<CronScaleJob> = {}): CronScaleJob => ({
  name: "morning",
  schedule: "0 0 8 * * *",
  targetSize: 5,
  timeZone: "Asia/Shanghai",
  ...over,
});

describe("cron schedules", () => {
  it("reads six fields, seconds first, in the job's time zone", () => {
    // 08:00:00 in Shanghai is 00:00:00 UTC.
    assert.equal(nextRunAfter(job(), new Date("2026-12-04T12:00:00Z"))?.toISOString(), "2026-12-05T00:00:00.000Z");
    assert.equal(latestRunAtOrBefore(job(), new Date("2026-12-04T12:00:00Z"))?.toISOString(), "2026-12-04T00:00:00.000Z");
    assert.equal(
      latestRunAtOrBefore(job({ schedule: "*/5 * * * * *" }), new Date("2026-12-04T12:00:05.000Z"))?.toISOString(),
      "2026-12-04T12:00:05.000Z",
    );
  });

  const refused: [string, CronScaleJob[], string[], RegExp][] = [
    ["five fields", [job({ schedule: "0 8 * * *" })], [], /jobs\[0\]\.schedule: must have six fields, seconds first/],
    ["a bad field", [job({ schedule: "61 * * * * *" })], [], /jobs\[0\]\.schedule: "61 \* \* \* \* \*": .*second/],
    ["an unknown time zone", [job({ timeZone: "Mars/Olympus" })], [], /jobs\[0\]\.time_zone: unknown time zone "Mars\/Olympus"/],
    ["two jobs of one name", [job(), job()], [], /jobs\[1\]\.name: "morning" is used by another job/],
    ["a bad exclude date", [job()], ["2026-02-30"], /exclude_dates\[0\]: must be a date YYYY-MM-DD/],
    ["no job", [], [], /jobs: at least one job is required/],
  ];
  for (const [name, jobs, dates, pattern] of refused) {
    it(`refuses ${name}, naming the field`, () => {
      assert.match(
        cronJobViolations(jobs, dates)
          .map((v) => `${v.path}: ${v.message}`)
          .join("; "),
        pattern,
      );
    });
  }

  const SET_AT = "2026-12-01T00:00:00.000Z";
  const due: { name: string; now: string; lastRunAt?: string; exclude?: string[]; expect: string }[] = [
    { name: "before the first time: nothing", now: "2026-12-01T23:59:59.000Z", expect: "none" },
    { name: "at its time: run", now: "2026-12-02T00:00:00.020Z", expect: "run 2026-12-02T00:00:00.000Z on time" },
    {
      name: "already run for that time: nothing (never twice)",
      now: "2026-12-02T00:00:03.000Z",
      lastRunAt: "2026-12-02T00:00:00.000Z",
      expect: "none",
    },
    {
      name: "missed 20 minutes while down: run late, once, the latest time",
      now: "2026-12-02T00:20:00.000Z",
      expect: "run 2026-12-02T00:00:00.000Z late",
    },
    {
      name: "missed days ago: only the latest time, and too old: skipped",
      now: "2026-12-04T02:00:00.000Z",
      lastRunAt: "2026-12-02T00:00:00.000Z",
      expect: "skip 2026-12-04T00:00:00.000Z",
    },
    {
      name: "an excluded date (in the job's zone): skipped",
      now: "2026-12-02T00:00:01.000Z",
      exclude: ["2026-12-02"],
      expect: "skip 2026-12-02T00:00:00.000Z",
    },
  ];
  for (const row of due) {
    it(`due: ${row.name}`, () => {
      const result = cronDue(job(), {
        lastRunAt: row.lastRunAt,
        setAt: SET_AT,
        excludeDates: row.exclude ?? [],
        now: new Date(row.now),
        catchUpMs: 3_600_000,
        lateMs: 5_000,
      });
      const text =
        result.kind === "none"
          ? "none"
          : result.kind === "run"
            ? `run ${result.scheduledAt.toISOString()} ${result.late ? "late" : "on time"}`
            : `skip ${result.scheduledAt.toISOString()}`;
      assert.equal(text, row.expect);
    });
  }
});

describe("cronDecider", () => {
  const spec = deciderSpecification(cronDecider);
  const set = event("CronScaleJobsSet", { service: "iris", jobs: [job()], excludeDates: [], setAt: "T0" });
  const ran = (scheduledAt: string) =>
    event("CronScaleJobRan", {
      service: "iris",
      job: "morning",
      scheduledAt,
      ranAt: "T1",
      targetSize: 5,
      state: "Succeeded",
      message: "scaled 1 -> 5",
    });
  const record = (scheduledAt: string) =>
    ({
      type: "RecordCronRun",
      service: "iris",
      job: "morning",
      scheduledAt,
      targetSize: 5,
      state: "Succeeded",
      message: "scaled 1 -> 5",
      now: "T1",
    }) as const;

  it("records a run", () =>
    spec
      .given([set])
      .when(record("2026-12-02T00:00:00.000Z"))
      .then([ran("2026-12-02T00:00:00.000Z")]));
  it("never records a time twice, nor an earlier one", () => {
    spec
      .given([set, ran("2026-12-02T00:00:00.000Z")])
      .when(record("2026-12-02T00:00:00.000Z"))
      .then([]);
    spec
      .given([set, ran("2026-12-02T00:00:00.000Z")])
      .when(record("2026-12-01T00:00:00.000Z"))
      .then([]);
  });
  it("keeps the runs of a job that stays when the jobs are replaced", () =>
    spec
      .given([set, ran("2026-12-02T00:00:00.000Z"), set])
      .when(record("2026-12-02T00:00:00.000Z"))
      .then([]));
  it("records nothing for a job that is gone", () =>
    spec
      .given([set, event("CronScaleJobsDeleted", { service: "iris", deletedAt: "T2" })])
      .when(record("2026-12-03T00:00:00.000Z"))
      .then([]));
  it("refuses to delete jobs that do not exist", () =>
    spec.given([]).when({ type: "DeleteCronJobs", service: "iris", now: "T" }).thenThrows(NotFoundError));
});

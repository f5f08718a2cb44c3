import assert from "node:assert/strict";
import { describe, it } from "node:test";
import type { BatchJob } from "@eas/proto";
import { duration, etaMs, progressBar, queueRows, renderBatchJob } from "./render.js";

const job = (overrides: Partial<BatchJob>): BatchJob => ({
  jobId: "b1",
  service: "gen",
  input: "obj://in/a.jsonl",
  output: "obj://out/a.jsonl",
  state: "Running",
  reason: "",
  totalLines: 10_000,
  doneLines: 2_500,
  okLines: 2_400,
  errorLines: 50,
  failedLines: 30,
  invalidLines: 20,
  linesPerSecond: 250,
  submittedAt: "",
  finishedAt: "",
  ...overrides,
});

describe("async CLI output", () => {
  it("draws a progress bar", () => {
    assert.equal(progressBar(0, 10, 10), "[..........]   0%");
    assert.equal(progressBar(5, 10, 10), "[#####.....]  50%");
    assert.equal(progressBar(10, 10, 10), "[##########] 100%");
    assert.equal(progressBar(0, 0, 4), "[####] 100%");
  });

  it("estimates the time left from the recent pace, and none without one", () => {
    assert.equal(etaMs(job({})), 30_000);
    assert.equal(etaMs(job({ linesPerSecond: 0 })), undefined);
    assert.equal(etaMs(job({ doneLines: 10_000 })), undefined);
  });

  it("says durations the way people read them", () => {
    assert.deepEqual(
      [duration(850), duration(12_000), duration(250_000), duration(7_500_000)],
      ["850 ms", "12 s", "4 min 10 s", "2 h 5 min"],
    );
  });

  it("shows a running job with its bar, pace, ETA and counts", () => {
    const text = renderBatchJob(job({}));
    assert.match(text, /b1 {2}Running {2}service gen/);
    assert.match(text, /\[#+\.+\] {2}25% 2,500\/10,000 lines {2}250 lines\/s {2}ETA 30 s/);
    assert.match(text, /ok 2,400 {2}error 50 {2}failed 30 {2}invalid 20/);
    assert.doesNotMatch(renderBatchJob(job({ state: "Completed", doneLines: 10_000 })), /ETA/);
  });

  it("shows the queue's figures", () => {
    const rows = Object.fromEntries(
      queueRows({
        service: "gen",
        length: 12,
        maxLength: 1_000,
        priorityLength: 2,
        oldestAgeMs: 4_000,
        inFlight: 3,
        slots: 4,
        readyInstances: 2,
        done: 1_500,
        failed: 3,
        deadLetters: 3,
      }),
    );
    assert.equal(rows.Length, "12 of 1,000 (2 priority)");
    assert.equal(rows.Oldest, "4 s");
    assert.equal(rows["In flight"], "3 of 4 slots on 2 ready instance(s)");
  });
});

import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { OpenLoopSchedule, type SchedulePhase } from "./schedule.js";

function take(schedule: OpenLoopSchedule, count: number): number[] {
  const times: number[] = [];
  for (let i = 0; i < count; i++) {
    times.push(schedule.next);
    schedule.advance();
  }
  return times;
}

const phase = (overrides: Partial<SchedulePhase>): SchedulePhase => ({
  fromMs: 0,
  rate: 100,
  workerIndex: 0,
  workerCount: 1,
  ...overrides,
});

describe("open-loop schedule", () => {
  it("plans one request every 1/rate seconds from the phase start", () => {
    const schedule = new OpenLoopSchedule();
    schedule.setPhase(phase({ fromMs: 5_000, rate: 200 }));
    assert.deepEqual(take(schedule, 4), [5_000, 5_005, 5_010, 5_015]);
  });

  it("interleaves the workers' shares into one evenly spaced stream", () => {
    const workers = [0, 1, 2].map((workerIndex) => {
      const schedule = new OpenLoopSchedule();
      schedule.setPhase(phase({ rate: 300, workerIndex, workerCount: 3 }));
      return take(schedule, 100);
    });
    const merged = workers.flat().sort((a, b) => a - b);
    const gaps = merged.slice(1).map((t, i) => t - merged[i]!);
    for (const gap of gaps) assert.ok(Math.abs(gap - 1000 / 300) < 1e-9, `gap ${gap}`);
    assert.equal(merged.filter((t) => t < 1000).length, 300);
  });

  it("switches to a new phase at its start, keeping the requests due before it", () => {
    const schedule = new OpenLoopSchedule();
    schedule.setPhase(phase({ rate: 10 }));
    take(schedule, 3); // 0, 100, 200
    schedule.setPhase(phase({ fromMs: 1_000, rate: 20 }));
    const times = take(schedule, 10);
    assert.deepEqual(times.slice(0, 7), [300, 400, 500, 600, 700, 800, 900]);
    assert.deepEqual(times.slice(7), [1_000, 1_050, 1_100]);
  });

  it("a rate of zero plans nothing", () => {
    const schedule = new OpenLoopSchedule();
    schedule.setPhase(phase({ rate: 0 }));
    assert.equal(schedule.next, Number.POSITIVE_INFINITY);
    schedule.setPhase(phase({ fromMs: 2_000, rate: 1 }));
    assert.equal(schedule.next, 2_000);
  });
});

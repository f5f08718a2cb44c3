import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { DEFAULT_RESTART_POLICY, decideRestart, nextBackoff } from "./restart-policy.js";

describe("nextBackoff", () => {
  const table: Array<[number, number]> = [
    [0, 1_000],
    [1, 2_000],
    [2, 4_000],
    [3, 8_000],
    [4, 16_000],
    [5, 30_000],
    [6, 30_000],
    [1_000, 30_000],
    [-1, 1_000],
  ];
  for (const [attempt, expected] of table) {
    it(`attempt ${attempt} waits ${expected} ms`, () => assert.equal(nextBackoff(attempt, DEFAULT_RESTART_POLICY), expected));
  }
  it("uses an injected base and cap", () => {
    assert.deepEqual(
      [0, 1, 2, 3].map((attempt) => nextBackoff(attempt, { baseMs: 10, capMs: 35 })),
      [10, 20, 35, 35],
    );
  });
});

describe("decideRestart", () => {
  const policy = { ...DEFAULT_RESTART_POLICY, maxRestarts: 3 };

  it("given a first crash, restarts after the base back-off", () => {
    assert.deepEqual(decideRestart(0, 0, policy), { action: "restart", delayMs: 1_000, consecutive: 1 });
  });
  it("given a crash loop, doubles the back-off", () => {
    assert.deepEqual(decideRestart(2, 5_000, policy), { action: "restart", delayMs: 4_000, consecutive: 3 });
  });
  it("given maxRestarts consecutive restarts, fails", () => {
    assert.deepEqual(decideRestart(3, 0, policy), { action: "fail", reason: "gave up after 3 consecutive restarts" });
  });
  it("given a long Ready stretch before the crash, starts over", () => {
    assert.deepEqual(decideRestart(3, 60_000, policy), { action: "restart", delayMs: 1_000, consecutive: 1 });
  });
  it("given no maxRestarts, never fails an instance that was Ready", () => {
    assert.equal(decideRestart(10_000, 0, DEFAULT_RESTART_POLICY).action, "restart");
  });
  it("given an instance never Ready, fails after maxRestartsBeforeReady restarts", () => {
    assert.deepEqual(decideRestart(1, 0, DEFAULT_RESTART_POLICY, false), { action: "restart", delayMs: 2_000, consecutive: 2 });
    assert.deepEqual(decideRestart(2, 0, DEFAULT_RESTART_POLICY, false), {
      action: "fail",
      reason: "gave up after 2 restarts: it was never Ready",
    });
  });
  it("given an instance that was Ready once, restarts past maxRestartsBeforeReady", () => {
    assert.equal(decideRestart(2, 0, DEFAULT_RESTART_POLICY, true).action, "restart");
    assert.equal(decideRestart(7, 0, DEFAULT_RESTART_POLICY, true).action, "restart");
  });
});

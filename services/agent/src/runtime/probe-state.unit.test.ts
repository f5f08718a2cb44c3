import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { initialProbeState, observeProbe, type ProbeState, type ProbeTransition } from "./probe-state.js";

/** Feeds outcomes ("+" pass, "-" fail) and collects the transitions. */
function run(role: "readiness" | "liveness", outcomes: string, threshold: number): { transitions: ProbeTransition[]; state: ProbeState } {
  let state = initialProbeState(role);
  const transitions: ProbeTransition[] = [];
  for (const symbol of outcomes) {
    const next = observeProbe(state, symbol === "+" ? { ok: true } : { ok: false, detail: "HTTP 503" }, threshold);
    state = next.state;
    transitions.push(next.transition);
  }
  return { transitions, state };
}

describe("probe state machine", () => {
  it("readiness starts failing and passes on the first success", () => {
    assert.deepEqual(run("readiness", "--+", 3).transitions, [undefined, undefined, "passed"]);
  });
  it("liveness starts passing and fails after threshold consecutive failures", () => {
    const { transitions, state } = run("liveness", "---", 3);
    assert.deepEqual(transitions, [undefined, undefined, "failed"]);
    assert.deepEqual(state, { passing: false, consecutiveFailures: 3, lastFailure: "HTTP 503" });
  });
  it("a success in between resets the count", () => {
    assert.deepEqual(run("liveness", "--+--", 3).transitions, [undefined, undefined, undefined, undefined, undefined]);
  });
  it("a ready probe turns unhealthy after threshold failures and recovers on a success", () => {
    assert.deepEqual(run("readiness", "+--+", 2).transitions, ["passed", undefined, "failed", "passed"]);
  });
  it("keeps failing without repeating the transition", () => {
    assert.deepEqual(run("liveness", "----", 2).transitions, [undefined, "failed", undefined, undefined]);
  });
  it("treats a threshold of 0 as 1", () => {
    assert.deepEqual(run("liveness", "-", 0).transitions, ["failed"]);
  });
});

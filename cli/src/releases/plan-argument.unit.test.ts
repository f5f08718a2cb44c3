import assert from "node:assert/strict";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, it } from "node:test";
import { InvalidArgumentError } from "commander";
import { parseMember, parsePlanArgument, withGateOptions } from "./plan-argument.js";

describe("eas release --plan", () => {
  it("reads inline steps: weight, then bake time in seconds or minutes; a last 100 without one", () => {
    assert.deepEqual(parsePlanArgument("5:10s, 25:1m,50:30,100%").steps, [
      { weight: 5, bakeSeconds: 10 },
      { weight: 25, bakeSeconds: 60 },
      { weight: 50, bakeSeconds: 30 },
      { weight: 100, bakeSeconds: 0 },
    ]);
  });
  it("reads a JSON file in proto3 JSON, snake_case or camelCase", () => {
    const file = join(mkdtempSync(join(tmpdir(), "plan-")), "plan.json");
    writeFileSync(
      file,
      JSON.stringify({ steps: [{ weight: 10, bake_seconds: 20 }], gates: { min_requests: 30 }, ready_timeout_seconds: 60 }),
    );
    const plan = parsePlanArgument(file);
    assert.deepEqual(plan.steps, [{ weight: 10, bakeSeconds: 20 }]);
    assert.equal(plan.gates?.minRequests, 30);
    assert.equal(plan.readyTimeoutSeconds, 60);
  });
  it("names a step it cannot read", () => assert.throws(() => parsePlanArgument("10:30s,fast"), InvalidArgumentError));
  it("lays gate options over the plan's gates", () => {
    const plan = withGateOptions({ steps: [], gates: { minRequests: 30 } }, { maxErrorIncrease: 0.05 });
    assert.deepEqual(plan.gates, { minRequests: 30, maxErrorRatioIncrease: 0.05 });
  });
  it("reads repeated --member service=weight", () => {
    assert.deepEqual(parseMember("b=10", parseMember("a=90")), [
      { service: "a", weight: 90 },
      { service: "b", weight: 10 },
    ]);
    assert.throws(() => parseMember("a:90"), InvalidArgumentError);
  });
});

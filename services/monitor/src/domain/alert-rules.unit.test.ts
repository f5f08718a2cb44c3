import assert from "node:assert/strict";
import { describe, it } from "node:test";
import type { CreateAlertRuleRequest } from "@eas/proto";
import { evaluateRule, NO_PROGRESS, ruleViolations, type RuleEvaluation } from "./alert-rules.js";

const valid: CreateAlertRuleRequest = {
  service: "svc",
  metric: "p99",
  comparison: ">",
  threshold: 300,
  windowSeconds: 30,
  webhookUrl: "http://127.0.0.1:9/hook",
  description: "",
};

describe("ruleViolations", () => {
  const cases: [string, Partial<CreateAlertRuleRequest>, string[]][] = [
    ["a valid rule", {}, []],
    ["a rule without webhook", { webhookUrl: "" }, []],
    ["an unknown service", { service: "other" }, ["service"]],
    ["an unknown metric", { metric: "p42" }, ["metric"]],
    ["a window of zero", { windowSeconds: 0 }, ["window_seconds"]],
    ["a malformed webhook URL", { webhookUrl: "not a url" }, ["webhook_url"]],
    ["a webhook that is not http", { webhookUrl: "ftp://host/x" }, ["webhook_url"]],
    ["a webhook with credentials", { webhookUrl: "https://user:pw@host/x" }, ["webhook_url"]],
    ["a bad comparison", { comparison: "=" }, ["comparison"]],
    ["a threshold that is not a number", { threshold: Number.NaN }, ["threshold"]],
  ];
  for (const [name, overrides, paths] of cases) {
    it(`${name}: ${paths.length === 0 ? "accepted" : paths.join(", ")}`, () => {
      assert.deepEqual(
        ruleViolations({ ...valid, ...overrides }, (s) => s === "svc").map((v) => v.path),
        paths,
      );
    });
  }
});

describe("evaluateRule: metric > 300 for 3 s", () => {
  /** Runs a rule over values, one per second, and lists the transitions with the second they happened in. */
  function run(values: (number | undefined)[], firing = false): string[] {
    let progress: RuleEvaluation["progress"] = NO_PROGRESS;
    const transitions: string[] = [];
    values.forEach((value, second) => {
      const result = evaluateRule({ comparison: ">", threshold: 300, windowSeconds: 3, firing, progress, secondMs: second * 1000, value });
      progress = result.progress;
      if (result.transition) {
        transitions.push(`${result.transition}@${second}`);
        firing = result.transition === "fire";
      }
    });
    return transitions;
  }

  const table: [string, (number | undefined)[], string[], boolean?][] = [
    ["fires at the third second in a row", [400, 400, 400, 400], ["fire@2"]],
    ["does not fire when a second in between is fine", [400, 400, 100, 400, 400], []],
    ["resolves at the first second that is fine", [400, 400, 400, 100], ["fire@2", "resolve@3"]],
    ["a quiet second (no value) neither breaks a run", [400, undefined, 400, 400], ["fire@2"]],
    ["nor ends an episode", [400, 400, 400, undefined, undefined, 400], ["fire@2"]],
    ["a whole window without a value ends the episode", [400, 400, 400, undefined, undefined, undefined], ["fire@2", "resolve@5"]],
    ["and the run", [400, 400, undefined, undefined, undefined, 400, 400], []],
    ["a new episode needs the whole window again", [400, 400, 400, 100, 400, 400, 400], ["fire@2", "resolve@3", "fire@6"]],
    ["a rule already firing (after a restart) does not fire again", [400, 400, 400, 400], [], true],
    ["a rule already firing resolves", [400, 100], ["resolve@1"], true],
    ["equal to the threshold does not hold for >", [300, 300, 300], []],
  ];
  for (const [name, values, expected, firing] of table) {
    it(name, () => assert.deepEqual(run(values, firing), expected));
  }
});

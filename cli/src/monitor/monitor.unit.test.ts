import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { LiveHistory, renderLiveView, sparkline } from "./live-view.js";
import { formatRule, parseDuration, parseRuleExpression } from "./rule-expression.js";

describe("alert rule expressions", () => {
  const cases: [string, ReturnType<typeof parseRuleExpression>][] = [
    ["p99 > 300ms for 30s", { metric: "p99", comparison: ">", threshold: 300, windowSeconds: 30 }],
    ["p99 > 0.3s for 30s", { metric: "p99", comparison: ">", threshold: 300, windowSeconds: 30 }],
    ["error_ratio > 1% for 1m", { metric: "error_ratio", comparison: ">", threshold: 0.01, windowSeconds: 60 }],
    ["qps < 1 for 10m", { metric: "qps", comparison: "<", threshold: 1, windowSeconds: 600 }],
    ["instances_ready < 1", { metric: "instances_ready", comparison: "<", threshold: 1, windowSeconds: 1 }],
    ["cpu>=90 for 1h30m", { metric: "cpu", comparison: ">=", threshold: 90, windowSeconds: 5_400 }],
  ];
  for (const [text, expected] of cases) {
    it(`reads "${text}"`, () => assert.deepEqual(parseRuleExpression(text), expected));
  }

  it("refuses units that do not fit the metric, and bad shapes", () => {
    assert.throws(() => parseRuleExpression("qps > 3ms for 1m"), /not a latency/);
    assert.throws(() => parseRuleExpression("p99 > 3% for 1m"), /not a ratio/);
    assert.throws(() => parseRuleExpression("p99 is high"), /expected/);
    assert.throws(() => parseDuration("ten minutes"), /not a duration/);
  });

  it("writes a rule back the way it reads it", () => {
    for (const text of ["p99 > 300ms for 30s", "error_ratio > 1% for 1m", "qps < 1 for 10m"]) {
      assert.equal(formatRule(parseRuleExpression(text)), text);
    }
  });
});

describe("live view", () => {
  it("draws a sparkline from low to high, with gaps", () => {
    assert.equal(sparkline([0, 7, 14, undefined]), "▁▅█ ");
    assert.equal(sparkline([5, 5]), "▄▄");
  });

  it("shows the latest second's headline numbers and each instance", () => {
    const history = new LiveHistory(3);
    for (const qps of [100, 200, 300, 400]) {
      history.push({
        service: "svc",
        timeMs: Date.UTC(2026, 0, 1, 12, 0, qps / 100),
        values: { qps, error_ratio: 0.05, p50: 20, p99: 45.5, instances_ready: 2, cpu: 42, memory: 100 * 1024 * 1024 },
        versions: [],
        instances: [{ instanceId: "svc-a", version: 1, values: { qps, p99: 45.5, cpu: 42, memory: 1024 } }],
      });
    }
    const screen = renderLiveView("svc", history);
    assert.match(screen, /svc {2}12:00:04 {2}instances ready: 2/);
    assert.match(screen, /QPS +400 {2}▁▅█/);
    assert.match(screen, /Errors \(5xx\) +5\.00%/);
    assert.match(screen, /Memory +100\.0 MiB/);
    assert.match(screen, /svc-a +1 +400 +45\.5ms +42\.0%/);
  });
});

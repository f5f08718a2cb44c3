import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { NotFoundError, ValidationError } from "@eas/decider";
import { deciderSpecification } from "@eas/decider/testing";
import { event } from "@eas/events";
import { budgetDecider, noBudget, thresholdsDue, type BudgetEvent } from "./budget.js";

const spec = deciderSpecification(budgetDecider);
const NOW = "2026-12-10T12:00:00.000Z";
const HOOK = "http://hooks.example:8080/budget";
const set = (amountMicros: number, at = "2026-12-01T00:00:00.000Z", webhookUrl = "") =>
  event("BudgetSet", { service: "iris", amountMicros, webhookUrl, at });
const reached = (thresholdPercent: number, spentMicros: number, period = "2026-12", amountMicros = 100_000_000) =>
  event("BudgetThresholdReached", { service: "iris", period, thresholdPercent, amountMicros, spentMicros, at: NOW });
const check = (spentMicros: number, period = "2026-12") => ({
  type: "CheckBudget" as const,
  service: "iris",
  period,
  spentMicros,
  now: NOW,
});

describe("budget decider", () => {
  it("sets a budget", () => {
    spec
      .given([])
      .when({ type: "SetBudget", service: "iris", amountMicros: 100_000_000, webhookUrl: "", now: NOW })
      .then([set(100_000_000, NOW)]);
  });

  it("setting the same amount again records nothing", () => {
    spec
      .given([set(100_000_000)])
      .when({ type: "SetBudget", service: "iris", amountMicros: 100_000_000, webhookUrl: "", now: NOW })
      .then([]);
  });

  it("refuses a negative budget, naming the field", () => {
    spec
      .given([])
      .when({ type: "SetBudget", service: "iris", amountMicros: -1, webhookUrl: "", now: NOW })
      .thenThrows(ValidationError, (error) => assert.equal(error.violations[0]?.path, "amountMicros"));
  });

  it("refuses a malformed webhook URL, naming the field, and writes nothing", () => {
    spec
      .given([])
      .when({ type: "SetBudget", service: "iris", amountMicros: 1, webhookUrl: "hooks.example/budget", now: NOW })
      .thenThrows(ValidationError, (error) =>
        assert.deepEqual(
          error.violations.map((v) => v.path),
          ["webhookUrl"],
        ),
      );
  });

  it("a budget may carry a webhook; the same setting again records nothing", () => {
    spec
      .given([])
      .when({ type: "SetBudget", service: "iris", amountMicros: 5, webhookUrl: HOOK, now: NOW })
      .then([set(5, NOW, HOOK)]);
    spec
      .given([set(5, NOW, HOOK)])
      .when({ type: "SetBudget", service: "iris", amountMicros: 5, webhookUrl: HOOK, now: NOW })
      .then([]);
  });

  it("a new webhook alone is recorded and does not re-arm the thresholds already reached", () => {
    spec
      .given([set(100_000_000), reached(80, 80_000_000)])
      .when({ type: "SetBudget", service: "iris", amountMicros: 100_000_000, webhookUrl: HOOK, now: NOW })
      .then([set(100_000_000, NOW, HOOK)]);
    spec
      .given([set(100_000_000), reached(80, 80_000_000), set(100_000_000, NOW, HOOK)])
      .when(check(90_000_000))
      .then([]);
  });

  it("deleting a budget that does not exist is NOT_FOUND", () => {
    spec.given([]).when({ type: "DeleteBudget", service: "iris", now: NOW }).thenThrows(NotFoundError);
  });

  const checks: { name: string; given: BudgetEvent[]; spent: number; period?: string; then: BudgetEvent[] }[] = [
    { name: "below 80 %: nothing", given: [set(100_000_000)], spent: 79_999_999, then: [] },
    { name: "at 80 %: the 80 % alert", given: [set(100_000_000)], spent: 80_000_000, then: [reached(80, 80_000_000)] },
    { name: "80 % again: nothing, it alerted this month", given: [set(100_000_000), reached(80, 80_000_000)], spent: 95_000_000, then: [] },
    {
      name: "past 100 % after 80 %: the 100 % alert only",
      given: [set(100_000_000), reached(80, 80_000_000)],
      spent: 100_000_001,
      then: [reached(100, 100_000_001)],
    },
    {
      name: "both at once: both alerts",
      given: [set(100_000_000)],
      spent: 150_000_000,
      then: [reached(80, 150_000_000), reached(100, 150_000_000)],
    },
    { name: "100 % again: nothing", given: [set(100_000_000), reached(80, 1), reached(100, 1)], spent: 200_000_000, then: [] },
    {
      name: "a new month: alerts again",
      given: [set(100_000_000), reached(80, 1, "2026-11"), reached(100, 1, "2026-11")],
      spent: 85_000_000,
      then: [reached(80, 85_000_000)],
    },
    {
      name: "a budget set again re-arms its alerts",
      given: [set(100_000_000), reached(80, 90_000_000), set(110_000_000)],
      spent: 90_000_000,
      then: [reached(80, 90_000_000, "2026-12", 110_000_000)],
    },
    { name: "a month without cost: nothing, even with a zero budget", given: [set(0)], spent: 0, then: [] },
    {
      name: "a zero budget: the first cost alerts both",
      given: [set(0)],
      spent: 1,
      then: [reached(80, 1, "2026-12", 0), reached(100, 1, "2026-12", 0)],
    },
    { name: "no budget: nothing", given: [], spent: 1_000_000_000, then: [] },
    { name: "a deleted budget: nothing", given: [set(1), event("BudgetDeleted", { service: "iris", at: NOW })], spent: 5, then: [] },
  ];
  for (const c of checks) {
    it(`CheckBudget, ${c.name}`, () => {
      spec.given(c.given).when(check(c.spent, c.period)).then(c.then);
    });
  }

  it("thresholdsDue agrees with the decider on an empty budget", () => {
    assert.deepEqual(thresholdsDue(noBudget("iris"), "2026-12", 10), []);
  });
});

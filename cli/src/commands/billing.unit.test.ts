import { describe, it } from "node:test";
import assert from "node:assert/strict";
import type { Bill } from "@eas/proto";
import { billText, budgetsText } from "./billing.js";

const usage = (costMicros: number) => ({ costMicros, instanceHours: 2, cpuCoreHours: 1, memoryGibHours: 4, gpuHours: 0 });
const bill: Bill = {
  from: "2026-12-01T00:00:00.000Z",
  to: "2026-12-02T00:00:00.000Z",
  by: "instance",
  now: "2026-12-02T00:00:00.000Z",
  month: "2026-12",
  lines: [
    { service: "iris", capacityClass: "public", key: "i1", usage: usage(173_280) },
    { service: "iris", capacityClass: "spot", key: "i3", usage: usage(29_280) },
  ],
  services: [{ service: "iris", usage: usage(202_560), monthToDateMicros: 202_560, budgetMicros: 250_000 }],
  total: usage(202_560),
};

describe("eas bill output", () => {
  it("shows each line's cost in currency units, the instance column when by instance, and the month against the budget", () => {
    const text = billText(bill);
    assert.match(text, /│ Instance +│/);
    assert.match(text, /│ iris +│ public +│ i1 +│ 0\.17328 +│ 2\.000/);
    assert.match(text, /│ iris +│ 0\.20256 +│ 0\.20256 +│ 0\.25 +│ 81\.0 % +│/);
    assert.match(text, /Total: 0\.20256$/);
  });

  it("has no key column by class", () => {
    assert.doesNotMatch(billText({ ...bill, by: "class" }), /│ Instance +│/);
  });
});

describe("eas budget list output", () => {
  it("shows the budget, this month's cost and the alerts reached", () => {
    const text = budgetsText([
      {
        service: "iris",
        amountMicros: 1_000_000,
        setAt: "",
        month: "2026-12",
        monthToDateMicros: 1_067_400,
        reachedPercent: [80, 100],
        webhookUrl: "http://hooks.example/b",
      },
    ]);
    assert.match(text, /│ iris +│ 1\.00 +│ 2026-12 +│ 1\.0674 +│ 106\.7 % +│ 80 %, 100 % +│ http:\/\/hooks\.example\/b +│/);
  });
});

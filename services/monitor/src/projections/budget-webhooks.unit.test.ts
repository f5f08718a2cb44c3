import assert from "node:assert/strict";
import { randomUUID } from "node:crypto";
import { describe, it } from "node:test";
import type { RecordedEvent } from "@eas/event-store";
import { encodeEventData, event, type EasEvent } from "@eas/events";
import { budgetWebhookDeliveries } from "../alerts/budget-webhooks.js";
import { budgetWebhooksProjection, type BudgetWebhooksState } from "./budget-webhooks.js";

/** Folds `events` as one stream would hold them: an event's revision is its index. */
function fold(events: EasEvent[]): BudgetWebhooksState {
  return events.reduce<BudgetWebhooksState>(
    (state, e, index) =>
      budgetWebhooksProjection.evolve(state, {
        id: randomUUID(),
        type: e.type,
        stream: "budget-iris",
        revision: index,
        position: index + 1,
        time: new Date(),
        data: encodeEventData(e),
        metadata: {},
      } as RecordedEvent),
    budgetWebhooksProjection.initialState(),
  );
}

const HOOK = "http://hooks.example/budget";
const set = (webhookUrl: string, amountMicros = 100_000_000) => event("BudgetSet", { service: "iris", amountMicros, webhookUrl, at: "t0" });
const reached = (thresholdPercent: number, spentMicros: number) =>
  event("BudgetThresholdReached", {
    service: "iris",
    period: "2026-12",
    thresholdPercent,
    amountMicros: 100_000_000,
    spentMicros,
    at: "t1",
  });
const outcome = (alertRevision: number, delivered: boolean) => {
  const common = { service: "iris", alertRevision, period: "2026-12", thresholdPercent: 80, attempts: 2, at: "t2" };
  return delivered
    ? event("BudgetWebhookDelivered", { ...common, statusCode: 204 })
    : event("BudgetWebhookFailed", { ...common, error: "HTTP 404" });
};
const owed = (state: BudgetWebhooksState) => (state.iris?.pending ?? []).map((p) => [p.alertRevision, p.thresholdPercent, p.url]);

describe("budget webhooks projection", () => {
  it("owes each threshold reached while the budget has a webhook, named by its revision", () => {
    assert.deepEqual(owed(fold([set(HOOK), reached(80, 80_000_000), reached(100, 100_000_000)])), [
      [1, 80, HOOK],
      [2, 100, HOOK],
    ]);
  });

  it("owes nothing for a threshold reached without a webhook", () => {
    assert.deepEqual(fold([set(""), reached(80, 80_000_000)]), {});
  });

  it("a recorded outcome, delivered or failed, clears what it names and only that", () => {
    assert.deepEqual(owed(fold([set(HOOK), reached(80, 1), reached(100, 1), outcome(1, true)])), [[2, 100, HOOK]]);
    assert.deepEqual(fold([set(HOOK), reached(80, 1), outcome(1, false), event("BudgetDeleted", { service: "iris", at: "t3" })]), {});
  });

  it("an alert keeps the webhook it was raised with; deleting the budget does not cancel it", () => {
    const state = fold([set(HOOK), reached(80, 1), set("http://other.example/b"), event("BudgetDeleted", { service: "iris", at: "t3" })]);
    assert.deepEqual(owed(state), [[1, 80, HOOK]]);
    assert.equal(state.iris?.webhookUrl, "");
  });

  it("posts the documented body, one queue per service, keyed by the alert", async () => {
    const recorded: unknown[] = [];
    const [delivery, ...rest] = budgetWebhookDeliveries(fold([set(HOOK), reached(80, 81_500_000)]), async (_service, command) => {
      recorded.push(command);
    });
    assert.equal(rest.length, 0);
    assert.deepEqual(
      { queue: delivery?.queue, key: delivery?.key, url: delivery?.url, body: delivery?.body },
      {
        queue: "budget-iris",
        key: "budget-iris:1",
        url: HOOK,
        body: {
          kind: "budget",
          service: "iris",
          period: "2026-12",
          threshold: 80,
          spentMicros: 81_500_000,
          budgetMicros: 100_000_000,
          at: "t1",
        },
      },
    );
    await delivery?.record(3, { delivered: true, statusCode: 200 }, "t9");
    assert.deepEqual(recorded, [
      {
        type: "RecordBudgetWebhook",
        service: "iris",
        alertRevision: 1,
        period: "2026-12",
        thresholdPercent: 80,
        attempts: 3,
        outcome: { delivered: true, statusCode: 200 },
        now: "t9",
      },
    ]);
  });
});

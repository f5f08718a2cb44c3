import { describe, it } from "node:test";
import { deciderSpecification } from "@eas/decider/testing";
import { event } from "@eas/events";
import { budgetAlertDecider, type BudgetAlertCommand } from "./budget-alert-decider.js";

const spec = deciderSpecification(budgetAlertDecider);
const common = { service: "iris", alertRevision: 4, period: "2026-12", thresholdPercent: 100, attempts: 3, at: "t1" };
const record = (outcome: BudgetAlertCommand["outcome"], alertRevision = 4): BudgetAlertCommand => ({
  type: "RecordBudgetWebhook",
  ...common,
  alertRevision,
  outcome,
  now: "t1",
});

describe("budget alert decider", () => {
  it("records a delivery", () => {
    spec
      .given([])
      .when(record({ delivered: true, statusCode: 200 }))
      .then([event("BudgetWebhookDelivered", { ...common, statusCode: 200 })]);
  });

  it("records a failure", () => {
    spec
      .given([])
      .when(record({ delivered: false, error: "HTTP 500" }))
      .then([event("BudgetWebhookFailed", { ...common, error: "HTTP 500" })]);
  });

  it("records one outcome per alert: a second one writes nothing", () => {
    spec
      .given([event("BudgetWebhookFailed", { ...common, error: "no answer within 5000 ms" })])
      .when(record({ delivered: true, statusCode: 200 }))
      .then([]);
  });

  it("another alert of the same budget is recorded", () => {
    spec
      .given([event("BudgetWebhookDelivered", { ...common, statusCode: 200 })])
      .when(record({ delivered: true, statusCode: 202 }, 5))
      .then([event("BudgetWebhookDelivered", { ...common, alertRevision: 5, statusCode: 202 })]);
  });
});

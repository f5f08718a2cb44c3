import type { BudgetAlertCommand } from "../domain/budget-alert-decider.js";
import type { BudgetWebhooksState } from "../projections/budget-webhooks.js";
import type { WebhookDelivery } from "./webhook-sender.js";

/** The JSON body POSTed to a budget's webhook (docs/monitoring.md, "Budget webhooks"). */
export interface BudgetWebhookBody {
  kind: "budget";
  service: string;
  /** The UTC calendar month, "2026-12". */
  period: string;
  /** 80 or 100: the percent of the budget reached. */
  threshold: number;
  /** Money in integer micro-units of the currency (1 unit = 1,000,000), as everywhere in EAS. */
  spentMicros: number;
  budgetMicros: number;
  /** When the billing noticed. */
  at: string;
}

/** The budget alerts owed to their webhooks, one queue per service; outcomes go to "budgetalert-<service>". */
export function budgetWebhookDeliveries(
  state: BudgetWebhooksState,
  execute: (service: string, command: BudgetAlertCommand) => Promise<void>,
): WebhookDelivery[] {
  return Object.entries(state).flatMap(([service, view]) =>
    view.pending.map((owed): WebhookDelivery => {
      const body: BudgetWebhookBody = {
        kind: "budget",
        service,
        period: owed.period,
        threshold: owed.thresholdPercent,
        spentMicros: owed.spentMicros,
        budgetMicros: owed.budgetMicros,
        at: owed.at,
      };
      const { alertRevision, period, thresholdPercent } = owed;
      return {
        queue: `budget-${service}`,
        key: `budget-${service}:${alertRevision}`,
        url: owed.url,
        body,
        record: (attempts, outcome, now) =>
          execute(service, { type: "RecordBudgetWebhook", service, alertRevision, period, thresholdPercent, attempts, outcome, now }),
      };
    }),
  );
}

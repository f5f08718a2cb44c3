import type { RecordedEvent } from "@eas/event-store";
import { decodeEvent, StreamCategory } from "@eas/events";
import type { Projection } from "@eas/projections";

/** A budget alert its webhook has not acknowledged yet (no BudgetWebhookDelivered/Failed in the log). */
export interface PendingBudgetWebhook {
  /** The revision of the BudgetThresholdReached in "budget-<service>": names the delivery. */
  alertRevision: number;
  /** The budget's webhook when the threshold was reached. */
  url: string;
  period: string;
  thresholdPercent: number;
  spentMicros: number;
  budgetMicros: number;
  at: string;
}

export interface BudgetWebhookView {
  /** The budget's webhook now; "" when it has none (or was deleted). */
  webhookUrl: string;
  pending: PendingBudgetWebhook[];
}

/** By service; a service without a webhook and with nothing pending is left out. */
export type BudgetWebhooksState = Record<string, BudgetWebhookView>;

function put(state: BudgetWebhooksState, service: string, view: BudgetWebhookView): BudgetWebhooksState {
  if (view.webhookUrl || view.pending.length > 0) return { ...state, [service]: view };
  const { [service]: _gone, ...rest } = state;
  return rest;
}

const none: BudgetWebhookView = { webhookUrl: "", pending: [] };

/**
 * The budget alerts owed to their budgets' webhooks: follows the billing's "budget-<service>" streams
 * and the monitor's own outcomes on "budgetalert-<service>". An alert raised while the budget had no
 * webhook is owed nothing; one raised with a webhook stays owed (deleting the budget does not cancel it).
 */
export const budgetWebhooksProjection: Projection<BudgetWebhooksState> = {
  name: "monitor-budget-webhooks",
  version: 1,
  categories: [StreamCategory.budget, StreamCategory.budgetAlert],
  initialState: () => ({}),
  evolve(state: BudgetWebhooksState, recorded: RecordedEvent): BudgetWebhooksState {
    const e = decodeEvent(recorded);
    if (!e) return state;
    switch (e.type) {
      case "eas.v1.BudgetSet":
      case "eas.v1.BudgetDeleted": {
        const view = state[e.data.service] ?? none;
        return put(state, e.data.service, { ...view, webhookUrl: e.type === "eas.v1.BudgetSet" ? e.data.webhookUrl : "" });
      }
      case "eas.v1.BudgetThresholdReached": {
        const view = state[e.data.service];
        if (!view?.webhookUrl) return state;
        const { period, thresholdPercent, spentMicros, amountMicros, at } = e.data;
        const owed = {
          alertRevision: recorded.revision,
          url: view.webhookUrl,
          period,
          thresholdPercent,
          spentMicros,
          budgetMicros: amountMicros,
          at,
        };
        return put(state, e.data.service, { ...view, pending: [...view.pending, owed] });
      }
      case "eas.v1.BudgetWebhookDelivered":
      case "eas.v1.BudgetWebhookFailed": {
        const view = state[e.data.service];
        if (!view) return state;
        return put(state, e.data.service, { ...view, pending: view.pending.filter((p) => p.alertRevision !== e.data.alertRevision) });
      }
      default:
        return state;
    }
  },
};

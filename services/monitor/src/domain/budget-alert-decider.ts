import type { Decider } from "@eas/decider";
import { event, type EventOf } from "@eas/events";

/**
 * Commands on the webhook deliveries of one service's budget alerts (stream "budgetalert-<service>",
 * written by the monitor). A delivery is named by the revision of its BudgetThresholdReached in
 * "budget-<service>".
 */
export type BudgetAlertCommand = {
  type: "RecordBudgetWebhook";
  service: string;
  alertRevision: number;
  period: string;
  thresholdPercent: number;
  attempts: number;
  outcome: { delivered: true; statusCode: number } | { delivered: false; error: string };
  now: string;
};

export type BudgetAlertEvent = EventOf<"eas.v1.BudgetWebhookDelivered"> | EventOf<"eas.v1.BudgetWebhookFailed">;

/** The alerts whose outcome is recorded, by their revision in the budget stream. */
export interface BudgetAlertState {
  readonly recorded: ReadonlySet<number>;
}

function decide(command: BudgetAlertCommand, state: BudgetAlertState): BudgetAlertEvent[] {
  // One outcome per alert: a second monitor (or a retry after a lost answer) records nothing more.
  if (state.recorded.has(command.alertRevision)) return [];
  const common = {
    service: command.service,
    alertRevision: command.alertRevision,
    period: command.period,
    thresholdPercent: command.thresholdPercent,
    attempts: command.attempts,
    at: command.now,
  };
  return command.outcome.delivered
    ? [event("BudgetWebhookDelivered", { ...common, statusCode: command.outcome.statusCode })]
    : [event("BudgetWebhookFailed", { ...common, error: command.outcome.error })];
}

function evolve(state: BudgetAlertState, e: BudgetAlertEvent): BudgetAlertState {
  return { recorded: new Set([...state.recorded, e.data.alertRevision]) };
}

export const budgetAlertDecider: Decider<BudgetAlertCommand, BudgetAlertEvent, BudgetAlertState> = {
  decide,
  evolve,
  initialState: () => ({ recorded: new Set() }),
};

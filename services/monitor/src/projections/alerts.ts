import type { RecordedEvent } from "@eas/event-store";
import { decodeEvent, StreamCategory } from "@eas/events";
import type { Projection } from "@eas/projections";
import type { AlertRule } from "@eas/proto";
import type { WebhookTransition } from "../domain/alert-decider.js";

/** A transition the rule's webhook has not acknowledged yet (neither Delivered nor Failed is in the log). */
export interface PendingWebhook {
  episode: number;
  transition: WebhookTransition;
  /** What the webhook receives. */
  value: number | undefined;
  at: string;
}

export interface AlertView {
  rule: AlertRule;
  firing: { episode: number; value: number; firedAt: string } | undefined;
  episode: number;
  pendingWebhooks: PendingWebhook[];
}

/** Live alert rules by id (deleted ones are dropped). */
export type AlertsState = Record<string, AlertView>;

function update(state: AlertsState, ruleId: string, change: (view: AlertView) => AlertView): AlertsState {
  const view = state[ruleId];
  return view ? { ...state, [ruleId]: change(view) } : state;
}

function pending(view: AlertView, webhook: PendingWebhook): PendingWebhook[] {
  return view.rule.webhookUrl ? [...view.pendingWebhooks, webhook] : view.pendingWebhooks;
}

/** Alert rules, which fire now, and which transitions still owe their webhook a post. */
export const alertsProjection: Projection<AlertsState> = {
  name: "monitor-alerts",
  version: 1,
  categories: [StreamCategory.alert],
  initialState: () => ({}),
  evolve(state: AlertsState, recorded: RecordedEvent): AlertsState {
    const e = decodeEvent(recorded);
    if (!e) return state;
    switch (e.type) {
      case "eas.v1.AlertRuleCreated": {
        const rule = e.data.rule!;
        return { ...state, [rule.id]: { rule, firing: undefined, episode: 0, pendingWebhooks: [] } };
      }
      case "eas.v1.AlertRuleDeleted": {
        const { [e.data.ruleId]: _gone, ...rest } = state;
        return rest;
      }
      case "eas.v1.AlertFired":
        return update(state, e.data.ruleId, (view) => ({
          ...view,
          firing: { episode: e.data.episode, value: e.data.value, firedAt: e.data.firedAt },
          episode: e.data.episode,
          pendingWebhooks: pending(view, { episode: e.data.episode, transition: "firing", value: e.data.value, at: e.data.firedAt }),
        }));
      case "eas.v1.AlertResolved":
        return update(state, e.data.ruleId, (view) => ({
          ...view,
          firing: undefined,
          pendingWebhooks: pending(view, { episode: e.data.episode, transition: "resolved", value: e.data.value, at: e.data.resolvedAt }),
        }));
      case "eas.v1.AlertWebhookDelivered":
      case "eas.v1.AlertWebhookFailed":
        return update(state, e.data.ruleId, (view) => ({
          ...view,
          pendingWebhooks: view.pendingWebhooks.filter((w) => !(w.episode === e.data.episode && w.transition === e.data.transition)),
        }));
      default:
        return state;
    }
  },
};

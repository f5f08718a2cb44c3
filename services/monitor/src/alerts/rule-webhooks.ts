import type { AlertRule } from "@eas/proto";
import type { AlertCommand } from "../domain/alert-decider.js";
import type { AlertsState } from "../projections/alerts.js";
import type { WebhookDelivery } from "./webhook-sender.js";

/** The JSON body POSTed to a rule's webhook. */
export interface RuleWebhookBody {
  status: "firing" | "resolved";
  rule: Pick<AlertRule, "id" | "service" | "metric" | "comparison" | "threshold" | "windowSeconds" | "description">;
  episode: number;
  /** The metric's value at the transition; null when it had none (a resolve because requests stopped). */
  value: number | null;
  at: string;
}

/** The alert transitions owed to their rules' webhooks, one queue per rule; outcomes go to the rule's stream. */
export function ruleWebhookDeliveries(
  state: AlertsState,
  execute: (ruleId: string, command: AlertCommand) => Promise<void>,
): WebhookDelivery[] {
  const deliveries: WebhookDelivery[] = [];
  for (const [ruleId, { rule, pendingWebhooks }] of Object.entries(state)) {
    if (!rule.webhookUrl) continue;
    for (const webhook of pendingWebhooks) {
      const body: RuleWebhookBody = {
        status: webhook.transition,
        rule: {
          id: rule.id,
          service: rule.service,
          metric: rule.metric,
          comparison: rule.comparison,
          threshold: rule.threshold,
          windowSeconds: rule.windowSeconds,
          description: rule.description,
        },
        episode: webhook.episode,
        value: webhook.value ?? null,
        at: webhook.at,
      };
      const { episode, transition } = webhook;
      deliveries.push({
        queue: `alert-${ruleId}`,
        key: `${ruleId}:${episode}:${transition}`,
        url: rule.webhookUrl,
        body,
        record: (attempts, outcome, now) => execute(ruleId, { type: "RecordWebhook", ruleId, episode, transition, attempts, outcome, now }),
      });
    }
  }
  return deliveries;
}

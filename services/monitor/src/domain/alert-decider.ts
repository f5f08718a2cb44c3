import { AlreadyExistsError, NotFoundError, type Decider } from "@eas/decider";
import { event, type EventOf } from "@eas/events";
import type { AlertRule } from "@eas/proto";

export type WebhookTransition = "firing" | "resolved";

/** Commands on one alert rule (stream "alert-<rule id>"). Time arrives with the command. */
export type AlertCommand =
  | { type: "CreateAlertRule"; rule: AlertRule }
  | { type: "DeleteAlertRule"; ruleId: string; now: string }
  | { type: "FireAlert"; ruleId: string; value: number; now: string }
  | { type: "ResolveAlert"; ruleId: string; value: number | undefined; now: string }
  | {
      type: "RecordWebhook";
      ruleId: string;
      episode: number;
      transition: WebhookTransition;
      attempts: number;
      outcome: { delivered: true; statusCode: number } | { delivered: false; error: string };
      now: string;
    };

export type AlertEvent =
  | EventOf<"eas.v1.AlertRuleCreated">
  | EventOf<"eas.v1.AlertRuleDeleted">
  | EventOf<"eas.v1.AlertFired">
  | EventOf<"eas.v1.AlertResolved">
  | EventOf<"eas.v1.AlertWebhookDelivered">
  | EventOf<"eas.v1.AlertWebhookFailed">;

export type AlertState = { exists: false } | { exists: true; rule: AlertRule; deleted: boolean; firing: boolean; episode: number };

function decide(command: AlertCommand, state: AlertState): AlertEvent[] {
  if (command.type === "CreateAlertRule") {
    if (state.exists) throw new AlreadyExistsError("alert rule", command.rule.id);
    return [event("AlertRuleCreated", { rule: command.rule })];
  }
  if (command.type === "DeleteAlertRule") {
    if (!state.exists || state.deleted) throw new NotFoundError("alert rule", command.ruleId);
    const resolve = state.firing
      ? [event("AlertResolved", { ruleId: state.rule.id, service: state.rule.service, episode: state.episode, resolvedAt: command.now })]
      : [];
    return [...resolve, event("AlertRuleDeleted", { ruleId: state.rule.id, service: state.rule.service, deletedAt: command.now })];
  }
  // Transitions decided by the evaluator: deciding again on a state that already has them writes nothing,
  // so a restarted monitor (or a retry) never fires one episode twice.
  if (!state.exists || state.deleted) return [];
  const { rule } = state;
  switch (command.type) {
    case "FireAlert":
      if (state.firing) return [];
      return [
        event("AlertFired", {
          ruleId: rule.id,
          service: rule.service,
          episode: state.episode + 1,
          metric: rule.metric,
          comparison: rule.comparison,
          threshold: rule.threshold,
          windowSeconds: rule.windowSeconds,
          value: command.value,
          firedAt: command.now,
        }),
      ];
    case "ResolveAlert":
      if (!state.firing) return [];
      return [
        event("AlertResolved", {
          ruleId: rule.id,
          service: rule.service,
          episode: state.episode,
          ...(command.value === undefined ? {} : { value: command.value }),
          resolvedAt: command.now,
        }),
      ];
    case "RecordWebhook": {
      const common = {
        ruleId: rule.id,
        episode: command.episode,
        transition: command.transition,
        attempts: command.attempts,
        at: command.now,
      };
      return command.outcome.delivered
        ? [event("AlertWebhookDelivered", { ...common, statusCode: command.outcome.statusCode })]
        : [event("AlertWebhookFailed", { ...common, error: command.outcome.error })];
    }
  }
}

function evolve(state: AlertState, e: AlertEvent): AlertState {
  if (e.type === "eas.v1.AlertRuleCreated") return { exists: true, rule: e.data.rule!, deleted: false, firing: false, episode: 0 };
  if (!state.exists) return state;
  switch (e.type) {
    case "eas.v1.AlertRuleDeleted":
      return { ...state, deleted: true, firing: false };
    case "eas.v1.AlertFired":
      return { ...state, firing: true, episode: e.data.episode };
    case "eas.v1.AlertResolved":
      return { ...state, firing: false };
    default:
      return state;
  }
}

/** The alert-rule aggregate: the rule, whether it fires, and its episode count. */
export const alertDecider: Decider<AlertCommand, AlertEvent, AlertState> = {
  decide,
  evolve,
  initialState: () => ({ exists: false }),
};

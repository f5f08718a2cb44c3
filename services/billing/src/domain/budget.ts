import { webhookUrlProblem } from "@eas/contracts";
import { NotFoundError, ValidationError, type Decider, type FieldViolation } from "@eas/decider";
import { event, type EventOf } from "@eas/events";

/** The thresholds of a budget that raise an alert, in percent of the amount. */
export const BUDGET_THRESHOLDS = [80, 100] as const;

export type BudgetEvent = EventOf<"eas.v1.BudgetSet"> | EventOf<"eas.v1.BudgetDeleted"> | EventOf<"eas.v1.BudgetThresholdReached">;

/** Commands on a service's budget (stream "budget-<service>"); time arrives with the command. */
export type BudgetCommand =
  /** `webhookUrl`: where the monitor posts the alerts; "" for none. */
  | { type: "SetBudget"; service: string; amountMicros: number; webhookUrl: string; now: string }
  | { type: "DeleteBudget"; service: string; now: string }
  /** The billing measured the service's cost this month: alert for each threshold newly reached. */
  | { type: "CheckBudget"; service: string; period: string; spentMicros: number; now: string };

export interface BudgetState {
  readonly exists: boolean;
  readonly service: string;
  readonly amountMicros: number;
  readonly setAt: string;
  /** Where the monitor posts this budget's alerts; "" for none. */
  readonly webhookUrl: string;
  /** The month of the thresholds in `reached`. */
  readonly period: string;
  /** Thresholds reached in `period` since the budget was last set, each alerted once. */
  readonly reached: readonly number[];
}

export function noBudget(service = ""): BudgetState {
  return { exists: false, service, amountMicros: 0, setAt: "", webhookUrl: "", period: "", reached: [] };
}

/**
 * The thresholds `spentMicros` reaches in `period` that have not alerted yet: none for a month with no cost,
 * each at most once per month and budget setting (setting the budget again re-arms them).
 */
export function thresholdsDue(budget: BudgetState, period: string, spentMicros: number): number[] {
  if (!budget.exists || spentMicros <= 0) return [];
  const reached = budget.period === period ? budget.reached : [];
  return BUDGET_THRESHOLDS.filter(
    (percent) => !reached.includes(percent) && BigInt(spentMicros) * 100n >= BigInt(budget.amountMicros) * BigInt(percent),
  );
}

/** What is wrong with a budget setting, each problem naming its field. */
export function setBudgetViolations(setting: { amountMicros: number; webhookUrl: string }): FieldViolation[] {
  const violations: FieldViolation[] = [];
  if (setting.amountMicros < 0) violations.push({ path: "amountMicros", message: `must not be negative, got ${setting.amountMicros}` });
  else if (!Number.isSafeInteger(setting.amountMicros)) {
    violations.push({ path: "amountMicros", message: `must be a whole number of micro-units, got ${setting.amountMicros}` });
  }
  const webhookProblem = setting.webhookUrl ? webhookUrlProblem(setting.webhookUrl) : undefined;
  if (webhookProblem) violations.push({ path: "webhookUrl", message: webhookProblem });
  return violations;
}

function decide(command: BudgetCommand, state: BudgetState): BudgetEvent[] {
  switch (command.type) {
    case "SetBudget": {
      const violations = setBudgetViolations(command);
      if (violations.length > 0) throw new ValidationError(violations);
      if (state.exists && state.amountMicros === command.amountMicros && state.webhookUrl === command.webhookUrl) return [];
      return [
        event("BudgetSet", {
          service: command.service,
          amountMicros: command.amountMicros,
          webhookUrl: command.webhookUrl,
          at: command.now,
        }),
      ];
    }
    case "DeleteBudget":
      if (!state.exists) throw new NotFoundError("budget of service", command.service);
      return [event("BudgetDeleted", { service: command.service, at: command.now })];
    case "CheckBudget":
      return thresholdsDue(state, command.period, command.spentMicros).map((percent) =>
        event("BudgetThresholdReached", {
          service: command.service,
          period: command.period,
          thresholdPercent: percent,
          amountMicros: state.amountMicros,
          spentMicros: command.spentMicros,
          at: command.now,
        }),
      );
  }
}

function evolve(state: BudgetState, e: BudgetEvent): BudgetState {
  switch (e.type) {
    case "eas.v1.BudgetSet": {
      const set = {
        exists: true,
        service: e.data.service,
        amountMicros: e.data.amountMicros,
        setAt: e.data.at,
        webhookUrl: e.data.webhookUrl,
      };
      // A new amount re-arms the thresholds; a new webhook alone keeps what was reached (and alerted) already.
      const sameAmount = state.exists && state.amountMicros === e.data.amountMicros;
      return { ...set, period: sameAmount ? state.period : "", reached: sameAmount ? state.reached : [] };
    }
    case "eas.v1.BudgetDeleted":
      return noBudget(e.data.service);
    case "eas.v1.BudgetThresholdReached": {
      const reached = state.period === e.data.period ? state.reached : [];
      return { ...state, period: e.data.period, reached: [...reached, e.data.thresholdPercent] };
    }
  }
}

/** A service's monthly budget and the alerts it raised. Stream "budget-<service>", written by the billing. */
export const budgetDecider: Decider<BudgetCommand, BudgetEvent, BudgetState> = {
  decide,
  evolve,
  initialState: () => noBudget(),
};

export function isBudgetEvent(e: { type: string }): e is BudgetEvent {
  return e.type === "eas.v1.BudgetSet" || e.type === "eas.v1.BudgetDeleted" || e.type === "eas.v1.BudgetThresholdReached";
}

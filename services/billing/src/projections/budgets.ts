import type { RecordedEvent } from "@eas/event-store";
import { decodeEvent, StreamCategory } from "@eas/events";
import type { Projection } from "@eas/projections";
import { budgetDecider, isBudgetEvent, noBudget, type BudgetState } from "../domain/index.js";

/** Every service's budget, by service name (deleted ones are dropped). */
export type Budgets = Record<string, BudgetState>;

/** The budgets as their decider folds them, for ListBudgets and the threshold checks. */
export const budgetsProjection: Projection<Budgets> = {
  name: "budgets",
  version: 1,
  categories: [StreamCategory.budget],
  initialState: () => ({}),
  evolve(budgets: Budgets, recorded: RecordedEvent): Budgets {
    const e = decodeEvent(recorded);
    if (!e || !isBudgetEvent(e)) return budgets;
    const { service } = e.data;
    const next = budgetDecider.evolve(budgets[service] ?? noBudget(service), e);
    if (!next.exists) {
      const { [service]: _gone, ...rest } = budgets;
      return rest;
    }
    return { ...budgets, [service]: next };
  },
};

export { effectiveEnd, emptyMeter, isKnownService, meterEvent, type BillableInterval, type MeterState } from "./metering.js";
export {
  addUsage,
  costMicros,
  DAY_MS,
  dayStart,
  HOUR_MS,
  hourStart,
  monthOf,
  monthStart,
  weightedRate,
  zeroUsage,
  type Usage,
} from "./pricing.js";
export {
  BILL_GROUPINGS,
  BillGrouping,
  computeBill,
  forEachHourSlice,
  monthToDateMicros,
  type Bill,
  type BillLine,
  type BillQuery,
} from "./bill.js";
export {
  BUDGET_THRESHOLDS,
  budgetDecider,
  isBudgetEvent,
  noBudget,
  setBudgetViolations,
  thresholdsDue,
  type BudgetCommand,
  type BudgetEvent,
  type BudgetState,
} from "./budget.js";

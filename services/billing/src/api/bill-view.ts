import type { Bill as BillMessage, BillLine as BillLineMessage, Budget, Usage as UsageMessage } from "@eas/proto";
import { BillGrouping, HOUR_MS, monthOf, type Bill, type BillGrouping as Grouping, type BudgetState, type Usage } from "../domain/index.js";

/** Money leaves the billing as safe integers; a sum beyond 2^53 micro-units (9 billion units) is refused, not rounded. */
export function toSafeMicros(micros: bigint): number {
  if (micros > BigInt(Number.MAX_SAFE_INTEGER) || micros < BigInt(Number.MIN_SAFE_INTEGER)) {
    throw new RangeError(`${micros} micro-units is beyond what the API carries exactly`);
  }
  return Number(micros);
}

/** Exact usage as the API's Usage: micro-units, and resource-hours (for reading, not for adding up money). */
export function toUsageMessage(usage: Usage): UsageMessage {
  const hours = (value: bigint, per = 1) => Number(value) / HOUR_MS / per;
  return {
    costMicros: toSafeMicros(usage.costMicros),
    instanceHours: hours(usage.instanceMs),
    cpuCoreHours: hours(usage.cpuMilliMs, 1000),
    memoryGibHours: hours(usage.memoryMibMs, 1024),
    gpuHours: hours(usage.gpuMs),
  };
}

function lineKey(by: Grouping, key: string): string {
  return by === BillGrouping.Hour || by === BillGrouping.Day ? new Date(Number(key)).toISOString() : key;
}

export interface BillContext {
  fromMs: number;
  toMs: number;
  nowMs: number;
  by: Grouping;
  /** Each service's cost this month so far, and its budget (0 for none). */
  monthToDate: (service: string) => bigint;
  budgetOf: (service: string) => number;
}

export function toBillMessage(bill: Bill, context: BillContext): BillMessage {
  const lines: BillLineMessage[] = bill.lines.map((line) => ({
    service: line.service,
    capacityClass: line.capacityClass,
    key: lineKey(context.by, line.key),
    usage: toUsageMessage(line.usage),
  }));
  return {
    from: new Date(context.fromMs).toISOString(),
    to: new Date(context.toMs).toISOString(),
    by: context.by,
    now: new Date(context.nowMs).toISOString(),
    month: monthOf(context.nowMs),
    lines,
    services: [...bill.services.entries()]
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
      .map(([service, usage]) => ({
        service,
        usage: toUsageMessage(usage),
        monthToDateMicros: toSafeMicros(context.monthToDate(service)),
        budgetMicros: context.budgetOf(service),
      })),
    total: toUsageMessage(bill.total),
  };
}

export function toBudgetMessage(budget: BudgetState, nowMs: number, monthToDate: bigint): Budget {
  const month = monthOf(nowMs);
  return {
    service: budget.service,
    amountMicros: budget.amountMicros,
    setAt: budget.setAt,
    month,
    monthToDateMicros: toSafeMicros(monthToDate),
    reachedPercent: budget.period === month ? [...budget.reached] : [],
    webhookUrl: budget.webhookUrl,
  };
}

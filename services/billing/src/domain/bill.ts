import type { CapacityClass } from "@eas/contracts";
import { effectiveEnd, type BillableInterval, type MeterState } from "./metering.js";
import { addUsage, costMicros, dayStart, HOUR_MS, hourStart, monthStart, weightedRate, zeroUsage, type Usage } from "./pricing.js";

/** How a bill's lines are cut: per service and class, and also per UTC hour, UTC day or instance. */
export const BillGrouping = { Class: "class", Hour: "hour", Day: "day", Instance: "instance" } as const;
export type BillGrouping = (typeof BillGrouping)[keyof typeof BillGrouping];
export const BILL_GROUPINGS: readonly BillGrouping[] = Object.values(BillGrouping);

export interface BillQuery {
  /** One service, or undefined for all. */
  readonly service?: string;
  /** The range [fromMs, toMs). */
  readonly fromMs: number;
  readonly toMs: number;
  /** Instances still holding resources are billed up to this moment (passed in, never read from a clock here). */
  readonly nowMs: number;
  readonly by: BillGrouping;
}

export interface BillLine {
  readonly service: string;
  readonly capacityClass: CapacityClass;
  /** by hour or day: the bucket's start (epoch ms, as a string); by instance: the instance id; else "". */
  readonly key: string;
  readonly usage: Usage;
}

export interface Bill {
  /** Sorted by service, class, then key (buckets in time order). */
  readonly lines: BillLine[];
  /** Each service's total over the range. */
  readonly services: Map<string, Usage>;
  readonly total: Usage;
}

/**
 * Calls `slice` for every piece of `interval` inside [fromMs, toMs) and billed by `nowMs`, cut at UTC hours:
 * the unit a cost is rounded in (a micro-unit, half up), so that every line, grouping and total of a bill is
 * a sum of the same rounded pieces and they add up exactly.
 */
export function forEachHourSlice(
  interval: BillableInterval,
  fromMs: number,
  toMs: number,
  nowMs: number,
  slice: (startMs: number, usage: Usage) => void,
): void {
  const start = Math.max(interval.startMs, fromMs);
  const end = Math.min(effectiveEnd(interval, nowMs), toMs);
  if (end <= start) return;
  const weighted = weightedRate(interval, interval.rates);
  for (let at = start; at < end;) {
    const next = Math.min(hourStart(at) + HOUR_MS, end);
    const ms = BigInt(next - at);
    slice(at, {
      costMicros: costMicros(weighted, next - at),
      instanceMs: ms,
      cpuMilliMs: ms * BigInt(interval.cpuMillis),
      memoryMibMs: ms * BigInt(interval.memoryMib),
      gpuMs: ms * BigInt(interval.gpu),
    });
    at = next;
  }
}

function keyOf(by: BillGrouping, interval: BillableInterval, sliceStartMs: number): string {
  switch (by) {
    case BillGrouping.Class:
      return "";
    case BillGrouping.Hour:
      return String(hourStart(sliceStartMs));
    case BillGrouping.Day:
      return String(dayStart(sliceStartMs));
    case BillGrouping.Instance:
      return interval.instanceId;
  }
}

function compareKeys(by: BillGrouping, a: string, b: string): number {
  if (by === BillGrouping.Hour || by === BillGrouping.Day) return Number(a) - Number(b);
  return a < b ? -1 : a > b ? 1 : 0;
}

function intervalsOf(meter: MeterState, service: string | undefined): BillableInterval[] {
  const all = Object.values(meter.intervals);
  return service === undefined ? all : all.filter((interval) => interval.service === service);
}

/** The bill of a range: cost and resource use per service and class (and hour, day or instance). */
export function computeBill(meter: MeterState, query: BillQuery): Bill {
  const lines = new Map<string, BillLine>();
  const services = new Map<string, Usage>();
  const total = zeroUsage();
  for (const interval of intervalsOf(meter, query.service)) {
    forEachHourSlice(interval, query.fromMs, query.toMs, query.nowMs, (sliceStart, usage) => {
      const key = keyOf(query.by, interval, sliceStart);
      const id = `${interval.service}\u0000${interval.capacityClass}\u0000${key}`;
      let line = lines.get(id);
      if (!line) {
        line = { service: interval.service, capacityClass: interval.capacityClass, key, usage: zeroUsage() };
        lines.set(id, line);
      }
      addUsage(line.usage, usage);
      let serviceUsage = services.get(interval.service);
      if (!serviceUsage) services.set(interval.service, (serviceUsage = zeroUsage()));
      addUsage(serviceUsage, usage);
      addUsage(total, usage);
    });
  }
  const sorted = [...lines.values()].sort(
    (a, b) =>
      (a.service < b.service ? -1 : a.service > b.service ? 1 : 0) ||
      (a.capacityClass < b.capacityClass ? -1 : a.capacityClass > b.capacityClass ? 1 : 0) ||
      compareKeys(query.by, a.key, b.key),
  );
  return { lines: sorted, services, total };
}

/** What a service (or every service) cost in `nowMs`'s UTC month, up to `nowMs`. */
export function monthToDateMicros(meter: MeterState, service: string | undefined, nowMs: number): bigint {
  let cost = 0n;
  const fromMs = monthStart(nowMs);
  for (const interval of intervalsOf(meter, service)) {
    forEachHourSlice(interval, fromMs, nowMs, nowMs, (_, usage) => (cost += usage.costMicros));
  }
  return cost;
}

import type { CapacityClass } from "@eas/contracts";
import { effectiveEnd, type BillableInterval, type MeterState } from "./metering.js";
import { addUsage, costMicros, DAY_MS, dayStart, HOUR_MS, hourStart, monthStart, weightedRate, zeroUsage, type Usage } from "./pricing.js";

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
 * The pieces of `interval` inside [fromMs, toMs) and billed by `nowMs`, cut at UTC hours: the unit a cost is
 * rounded in (to a micro-unit, half up), so that every line, grouping and total of a bill is a sum of the
 * same rounded pieces and they add up exactly. A run of whole hours comes as one call with its `hours`
 * (each costs the same), so a long interval costs three calls, not one per hour.
 */
export function forEachHourSlice(
  interval: BillableInterval,
  fromMs: number,
  toMs: number,
  nowMs: number,
  slice: (startMs: number, usage: Usage, hours: number) => void,
): void {
  const start = Math.max(interval.startMs, fromMs);
  const end = Math.min(effectiveEnd(interval, nowMs), toMs);
  if (end <= start) return;
  const weighted = weightedRate(interval, interval.rates);
  const usageOf = (ms: number, times = 1): Usage => {
    const span = BigInt(ms) * BigInt(times);
    return {
      costMicros: costMicros(weighted, ms) * BigInt(times),
      instanceMs: span,
      cpuMilliMs: span * BigInt(interval.cpuMillis),
      memoryMibMs: span * BigInt(interval.memoryMib),
      gpuMs: span * BigInt(interval.gpu),
    };
  };
  const firstHourEnd = Math.min(hourStart(start) + HOUR_MS, end);
  slice(start, usageOf(firstHourEnd - start), firstHourEnd - start === HOUR_MS ? 1 : 0);
  if (firstHourEnd === end) return;
  const wholeHours = Math.floor((end - firstHourEnd) / HOUR_MS);
  if (wholeHours > 0) slice(firstHourEnd, usageOf(HOUR_MS, wholeHours), wholeHours);
  const lastStart = firstHourEnd + wholeHours * HOUR_MS;
  if (lastStart < end) slice(lastStart, usageOf(end - lastStart), 0);
}

/** Divides a run of `hours` whole hours' usage into `part` hours' worth (exact: each hour's usage is the same). */
function partOf(usage: Usage, hours: number, part: number): Usage {
  if (part === hours) return usage;
  const [h, p] = [BigInt(hours), BigInt(part)];
  return {
    costMicros: (usage.costMicros / h) * p,
    instanceMs: (usage.instanceMs / h) * p,
    cpuMilliMs: (usage.cpuMilliMs / h) * p,
    memoryMibMs: (usage.memoryMibMs / h) * p,
    gpuMs: (usage.gpuMs / h) * p,
  };
}

/**
 * Calls `add` with each bucket key of `by` and its usage within a slice: a run of whole hours is cut into
 * its hours (by hour) or into the days it spans (by day); other groupings take it whole.
 */
function forEachBucket(
  by: BillGrouping,
  interval: BillableInterval,
  startMs: number,
  usage: Usage,
  hours: number,
  add: (key: string, usage: Usage) => void,
): void {
  switch (by) {
    case BillGrouping.Class:
      return add("", usage);
    case BillGrouping.Instance:
      return add(interval.instanceId, usage);
    case BillGrouping.Hour:
      if (hours <= 1) return add(String(hourStart(startMs)), usage);
      for (let i = 0; i < hours; i++) add(String(startMs + i * HOUR_MS), partOf(usage, hours, 1));
      return;
    case BillGrouping.Day: {
      if (hours <= 1) return add(String(dayStart(startMs)), usage);
      for (let done = 0; done < hours;) {
        const at = startMs + done * HOUR_MS;
        const inDay = Math.min(hours - done, (dayStart(at) + DAY_MS - at) / HOUR_MS);
        add(String(dayStart(at)), partOf(usage, hours, inDay));
        done += inDay;
      }
      return;
    }
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
    forEachHourSlice(interval, query.fromMs, query.toMs, query.nowMs, (sliceStart, usage, hours) => {
      forEachBucket(query.by, interval, sliceStart, usage, hours, (key, part) => {
        const id = `${interval.service}\u0000${interval.capacityClass}\u0000${key}`;
        let line = lines.get(id);
        if (!line) {
          line = { service: interval.service, capacityClass: interval.capacityClass, key, usage: zeroUsage() };
          lines.set(id, line);
        }
        addUsage(line.usage, part);
      });
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

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
 * Calls `add` with each hour or day (its start, epoch ms as a string) of a slice and its usage there: a run
 * of whole hours is cut into its hours, or into the UTC days it spans.
 */
function forEachBucket(
  by: typeof BillGrouping.Hour | typeof BillGrouping.Day,
  startMs: number,
  usage: Usage,
  hours: number,
  add: (key: string, usage: Usage) => void,
): void {
  const bucketOf = by === BillGrouping.Hour ? hourStart : dayStart;
  if (hours <= 1) return add(String(bucketOf(startMs)), usage);
  for (let done = 0; done < hours;) {
    const at = startMs + done * HOUR_MS;
    const inBucket = by === BillGrouping.Hour ? 1 : Math.min(hours - done, (dayStart(at) + DAY_MS - at) / HOUR_MS);
    add(String(bucketOf(at)), partOf(usage, hours, inBucket));
    done += inBucket;
  }
}

function compareKeys(by: BillGrouping, a: string, b: string): number {
  if (by === BillGrouping.Hour || by === BillGrouping.Day) return Number(a) - Number(b);
  return a < b ? -1 : a > b ? 1 : 0;
}

function* intervalsOf(meter: MeterState, service: string | undefined): Generator<BillableInterval> {
  for (const id in meter.intervals) {
    const interval = meter.intervals[id]!;
    if (service === undefined || interval.service === service) yield interval;
  }
}

/** The bill of a range: cost and resource use per service and class (and hour, day or instance). */
export function computeBill(meter: MeterState, query: BillQuery): Bill {
  const lines = new Map<string, BillLine>();
  const services = new Map<string, Usage>();
  const total = zeroUsage();
  const addToLine = (interval: BillableInterval, key: string, usage: Usage) => {
    const id = `${interval.service}\u0000${interval.capacityClass}\u0000${key}`;
    let line = lines.get(id);
    if (!line) {
      line = { service: interval.service, capacityClass: interval.capacityClass, key, usage: zeroUsage() };
      lines.set(id, line);
    }
    addUsage(line.usage, usage);
  };
  const bucket = query.by === BillGrouping.Hour || query.by === BillGrouping.Day ? query.by : undefined;
  for (const interval of intervalsOf(meter, query.service)) {
    // The interval's own usage first, then one addition per line, service and total (a bill of 200,000
    // intervals is bound by these bigint additions).
    let own: Usage | undefined;
    forEachHourSlice(interval, query.fromMs, query.toMs, query.nowMs, (sliceStart, usage, hours) => {
      own = own ? addUsage(own, usage) : { ...usage };
      if (bucket) forEachBucket(bucket, sliceStart, usage, hours, (key, part) => addToLine(interval, key, part));
    });
    if (!own) continue;
    if (!bucket) addToLine(interval, query.by === BillGrouping.Instance ? interval.instanceId : "", own);
    let serviceUsage = services.get(interval.service);
    if (!serviceUsage) services.set(interval.service, (serviceUsage = zeroUsage()));
    addUsage(serviceUsage, own);
    addUsage(total, own);
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

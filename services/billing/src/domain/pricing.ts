import type { HourlyRates } from "@eas/contracts";

export const HOUR_MS = 3_600_000;
export const DAY_MS = 24 * HOUR_MS;

/**
 * ms x (millicores x CPU rate x 1024 + MiB x memory rate x 1000 + GPUs x GPU rate x 1,024,000) / PRICE_DENOMINATOR
 * is the exact cost in micro-units: a core is 1000 millicores, a GiB 1024 MiB, an hour 3,600,000 ms.
 */
const PRICE_DENOMINATOR = BigInt(HOUR_MS) * 1000n * 1024n;

/** What some reserved resources cost per ms, times {@link PRICE_DENOMINATOR} (exact, in bigint). */
export function weightedRate(resources: { cpuMillis: number; memoryMib: number; gpu: number }, rates: HourlyRates): bigint {
  return (
    BigInt(resources.cpuMillis) * BigInt(rates.cpuCoreHourMicros) * 1024n +
    BigInt(resources.memoryMib) * BigInt(rates.memoryGibHourMicros) * 1000n +
    BigInt(resources.gpu) * BigInt(rates.gpuHourMicros) * 1_024_000n
  );
}

/** The cost of holding resources of `weighted` rate for `ms`, rounded half up to a micro-unit. */
export function costMicros(weighted: bigint, ms: number): bigint {
  const exact = weighted * BigInt(ms);
  return (exact * 2n + PRICE_DENOMINATOR) / (2n * PRICE_DENOMINATOR);
}

/** Resource use and cost, exact: ms, millicore-ms, MiB-ms, GPU-ms and micro-units. */
export interface Usage {
  costMicros: bigint;
  instanceMs: bigint;
  cpuMilliMs: bigint;
  memoryMibMs: bigint;
  gpuMs: bigint;
}

export function zeroUsage(): Usage {
  return { costMicros: 0n, instanceMs: 0n, cpuMilliMs: 0n, memoryMibMs: 0n, gpuMs: 0n };
}

/** Adds `b` into `a` (in place) and returns `a`. */
export function addUsage(a: Usage, b: Usage): Usage {
  a.costMicros += b.costMicros;
  a.instanceMs += b.instanceMs;
  a.cpuMilliMs += b.cpuMilliMs;
  a.memoryMibMs += b.memoryMibMs;
  a.gpuMs += b.gpuMs;
  return a;
}

/** Start of the UTC hour that holds `ms`. */
export const hourStart = (ms: number): number => ms - (((ms % HOUR_MS) + HOUR_MS) % HOUR_MS);
/** Start of the UTC day that holds `ms`. */
export const dayStart = (ms: number): number => ms - (((ms % DAY_MS) + DAY_MS) % DAY_MS);

/** Start of the UTC calendar month that holds `ms`. */
export function monthStart(ms: number): number {
  const date = new Date(ms);
  return Date.UTC(date.getUTCFullYear(), date.getUTCMonth(), 1);
}

/** The UTC calendar month that holds `ms`, as "2026-12": a budget's period. */
export function monthOf(ms: number): string {
  return new Date(ms).toISOString().slice(0, 7);
}

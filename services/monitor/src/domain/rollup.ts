import type { SeriesPoint } from "@eas/proto";
import { mergePointsOverTime } from "./point-stats.js";

export const MINUTE_MS = 60_000;

/** Whether closing the second at `secondMs` completes a minute. */
export function completesMinute(secondMs: number): boolean {
  return (secondMs + 1000) % MINUTE_MS === 0;
}

/**
 * The 1-minute point of a service from its 1-second points: counts summed, histograms merged (the
 * minute's p99 is that of all its requests, never an average of seconds' p99s), levels summed over
 * the seconds so that reading divides by 60.
 */
export function rollupMinute(service: string, minuteStartMs: number, seconds: readonly SeriesPoint[]): SeriesPoint | undefined {
  const inMinute = seconds.filter((p) => p.startMs >= minuteStartMs && p.startMs < minuteStartMs + MINUTE_MS);
  if (inMinute.length === 0) return undefined;
  return mergePointsOverTime(service, minuteStartMs, MINUTE_MS, inMinute);
}

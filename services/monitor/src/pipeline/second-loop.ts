import type { SeriesPoint } from "@eas/proto";
import { completesMinute, MINUTE_MS, rollupMinute } from "../domain/rollup.js";
import type { FleetFacts, SecondAggregator } from "../domain/second-aggregator.js";
import type { RecentPoints } from "../series/recent-points.js";
import type { SeriesStore } from "../series/series-store.js";

/** Called once per closed second, in order, with the points of the services that reported in it. */
export type SecondListener = (secondMs: number, points: readonly SeriesPoint[]) => void;

export interface SecondLoopOptions {
  aggregator: SecondAggregator;
  recent: RecentPoints;
  store: SeriesStore;
  fleet: FleetFacts;
  /** How long after a second ends it is closed: the time its samples have to arrive. */
  finalizeDelayMs: number;
  listeners: readonly SecondListener[];
  onError(error: unknown, what: string): void;
  now?: () => number;
}

/** A loop that lags further than this (a suspended machine) skips ahead instead of closing every missed second. */
const MAX_CATCH_UP_SECONDS = 30;

/**
 * Closes each second once its samples had time to arrive: merges them into points, keeps them in memory,
 * stores them (in order, never blocking the next second), tells the listeners (live streams, alerts,
 * Prometheus), and at each minute's end writes the minute's points.
 */
export function startSecondLoop(options: SecondLoopOptions): { stop(): Promise<void> } {
  const { aggregator, recent, store, fleet, finalizeDelayMs } = options;
  const now = options.now ?? Date.now;
  let writes: Promise<void> = Promise.resolve();
  let timer: NodeJS.Timeout | undefined;
  let stopped = false;

  const write = (tier: "1s" | "1m", points: SeriesPoint[]) => {
    if (points.length === 0) return;
    writes = writes.then(() => store.write(tier, points)).catch((error: unknown) => options.onError(error, `writing ${tier} points`));
  };

  const closeSecond = (secondMs: number) => {
    const points = aggregator.close(secondMs, fleet);
    recent.add(points);
    write("1s", points);
    for (const listener of options.listeners) {
      try {
        listener(secondMs, points);
      } catch (error) {
        options.onError(error, "a second listener");
      }
    }
    if (completesMinute(secondMs)) {
      const minuteStart = secondMs + 1000 - MINUTE_MS;
      // Merging a minute of every service is seconds of work at 1,000 services: done in slices, between seconds.
      writes = writes
        .then(async () => store.write("1m", await rollupMinutes(recent, minuteStart)))
        .catch((error: unknown) => options.onError(error, "writing 1m points"));
    }
  };

  const tick = () => {
    if (stopped) return;
    const closeBefore = Math.floor((now() - finalizeDelayMs) / 1000) * 1000;
    let next = aggregator.closedThroughMs;
    if ((closeBefore - next) / 1000 > MAX_CATCH_UP_SECONDS) next = closeBefore - MAX_CATCH_UP_SECONDS * 1000;
    for (; next < closeBefore; next += 1000) closeSecond(next);
    recent.prune(now());
    schedule();
  };

  const schedule = () => {
    const current = now();
    const nextClose = Math.floor((current - finalizeDelayMs) / 1000) * 1000 + 1000 + finalizeDelayMs;
    timer = setTimeout(tick, Math.max(1, nextClose - current));
  };
  schedule();

  return {
    async stop() {
      stopped = true;
      clearTimeout(timer);
      await writes;
    },
  };
}

/** Services merged between two yields to the event loop (which keeps reading samples meanwhile). */
const ROLLUP_SLICE = 25;

/** The minute points of every service that reported in the minute starting at `minuteStartMs`. */
export async function rollupMinutes(recent: RecentPoints, minuteStartMs: number): Promise<SeriesPoint[]> {
  const minutes: SeriesPoint[] = [];
  const services = recent.services();
  for (let i = 0; i < services.length; i++) {
    if (i > 0 && i % ROLLUP_SLICE === 0) await new Promise((resolve) => setImmediate(resolve));
    const service = services[i]!;
    const minute = rollupMinute(service, minuteStartMs, recent.range(service, minuteStartMs, minuteStartMs + MINUTE_MS));
    if (minute) minutes.push(minute);
  }
  return minutes;
}

/**
 * After a restart: reloads the last minutes of 1-second points into memory, and writes the minute points
 * of complete minutes among them (a minute the previous process already wrote is dropped by JetStream's
 * de-duplication, or replaced by the identical point).
 */
export async function recoverRecentPoints(
  recent: RecentPoints,
  store: SeriesStore,
  nowMs: number,
): Promise<{ points: number; minutes: number }> {
  const fromMs = Math.floor((nowMs - recent.windowMs) / MINUTE_MS) * MINUTE_MS;
  const points = await store.read("1s", undefined, fromMs, nowMs);
  recent.add(points);
  recent.coverFrom(fromMs);
  const minutes: SeriesPoint[] = [];
  for (let minute = fromMs; minute + MINUTE_MS <= Math.floor(nowMs / 1000) * 1000; minute += MINUTE_MS) {
    minutes.push(...(await rollupMinutes(recent, minute)));
  }
  await store.write("1m", minutes);
  return { points: points.length, minutes: minutes.length };
}

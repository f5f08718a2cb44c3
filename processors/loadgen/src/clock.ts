/** Wall-clock time in fractional Unix milliseconds; injected so tests can run a sender on their own time. */
export interface Clock {
  now(): number;
}

/** Unix milliseconds with sub-millisecond resolution (`Date.now()` has whole milliseconds only). */
export const systemClock: Clock = { now: () => performance.timeOrigin + performance.now() };

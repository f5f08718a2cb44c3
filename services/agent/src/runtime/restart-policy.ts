import type { RestartPolicy } from "./types.js";

/**
 * 1 s, 2 s, 4 s ... capped at 30 s; reset after a minute of Ready. An instance that was never Ready is
 * restarted twice, then Failed (a command that cannot start fails within seconds, with its exit as the
 * reason); one that was Ready once is restarted forever.
 */
export const DEFAULT_RESTART_POLICY: RestartPolicy = { baseMs: 1_000, capMs: 30_000, resetAfterMs: 60_000, maxRestartsBeforeReady: 2 };

/**
 * Back-off before restart number `attempt + 1` of a run of consecutive restarts
 * (attempt 0 -> baseMs, 1 -> 2 x baseMs, ...), capped at `capMs`.
 */
export function nextBackoff(attempt: number, policy: Pick<RestartPolicy, "baseMs" | "capMs">): number {
  if (attempt < 0 || !Number.isFinite(attempt)) return policy.baseMs;
  // 2 ** 31 overflows nothing in floating point, but cap the exponent so the product stays finite.
  return Math.min(policy.capMs, policy.baseMs * 2 ** Math.min(attempt, 52));
}

/** What to do after the process ended on its own (crash, liveness failure, start timeout). */
export type RestartDecision = { action: "restart"; delayMs: number; consecutive: number } | { action: "fail"; reason: string };

/**
 * Decides the next step after an unplanned exit.
 * @param consecutive restarts in a row so far (before this one)
 * @param readyForMs how long the instance had been Ready without interruption before it ended (0 if never)
 * @param everReady whether the instance was ever Ready, in any of its runs
 * @returns restart after `delayMs` (with `consecutive` now counting this restart), or fail
 */
export function decideRestart(consecutive: number, readyForMs: number, policy: RestartPolicy, everReady = true): RestartDecision {
  // Never Ready: every run so far ended before its first Ready, so `consecutive` counts all its restarts.
  if (!everReady && policy.maxRestartsBeforeReady !== undefined && consecutive >= policy.maxRestartsBeforeReady) {
    return { action: "fail", reason: `gave up after ${consecutive} restart${consecutive === 1 ? "" : "s"}: it was never Ready` };
  }
  // A long healthy stretch means this crash is not part of a crash loop.
  const attempt = readyForMs >= policy.resetAfterMs ? 0 : consecutive;
  if (policy.maxRestarts !== undefined && attempt >= policy.maxRestarts) {
    return { action: "fail", reason: `gave up after ${attempt} consecutive restarts` };
  }
  return { action: "restart", delayMs: nextBackoff(attempt, policy), consecutive: attempt + 1 };
}

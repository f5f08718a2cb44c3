/**
 * One attempt of an async request on an instance, and what follows it: store the answer as the request's
 * outcome, try again later, or give up and dead-letter it. Pure (ADR 0030).
 */

/** How an attempt ended. */
export type AttemptOutcome =
  /** The instance answered; `body` is complete. */
  | { readonly kind: "answered"; readonly status: number }
  /** No usable answer: refused, reset, timed out, the instance left mid-request. */
  | { readonly kind: "failed"; readonly reason: string }
  /** The instance answered, but the answer cannot be stored (too large): trying again gives the same. */
  | { readonly kind: "unstorable"; readonly reason: string };

export type AttemptDecision =
  | { readonly kind: "store" }
  | { readonly kind: "retry"; readonly error: string; readonly delayMs: number }
  | { readonly kind: "dead-letter"; readonly error: string };

/** When to try again after a failure: exponential from `baseMs`, capped at `maxMs`. */
export interface RetryBackoff {
  readonly baseMs: number;
  readonly maxMs: number;
}

export const DEFAULT_BACKOFF: RetryBackoff = { baseMs: 1_000, maxMs: 30_000 };

/**
 * Statuses worth another attempt: the instance could not serve the request now (5xx, 429 too many requests,
 * 408 timeout); another instance, or the same one later, may. Any other status is the instance's answer.
 */
export function isRetriedStatus(status: number): boolean {
  return status >= 500 || status === 429 || status === 408;
}

/**
 * What to do after an attempt, given how many attempts had failed before it and the service's
 * `max_attempts` (the first attempt included).
 */
export function decideAfterAttempt(
  outcome: AttemptOutcome,
  failedBefore: number,
  maxAttempts: number,
  backoff: RetryBackoff = DEFAULT_BACKOFF,
): AttemptDecision {
  if (outcome.kind === "answered" && !isRetriedStatus(outcome.status)) return { kind: "store" };
  const error = outcome.kind === "answered" ? `HTTP ${outcome.status}` : outcome.reason;
  if (outcome.kind === "unstorable") return { kind: "dead-letter", error };
  const failed = failedBefore + 1;
  if (failed >= maxAttempts) return { kind: "dead-letter", error };
  return { kind: "retry", error, delayMs: retryDelayMs(failed, backoff) };
}

/** The pause before the attempt that follows the `failed`-th failure. */
export function retryDelayMs(failed: number, backoff: RetryBackoff = DEFAULT_BACKOFF): number {
  return Math.min(backoff.maxMs, backoff.baseMs * 2 ** Math.max(0, failed - 1));
}

/**
 * Deliveries beyond the attempts that a request may see without an outcome (the async-queue stopped while it
 * was waiting or running, and it was handed out again). A request delivered more often than its attempts plus
 * these is dead-lettered: something keeps it from ever finishing.
 */
export const SPARE_DELIVERIES = 10;

export function isStuck(deliveries: number, failedBefore: number, maxAttempts: number): boolean {
  return deliveries > Math.max(maxAttempts, failedBefore + 1) + SPARE_DELIVERIES;
}

import { EventStoreError, EventStoreUnavailableError } from "./errors.js";
import { sleep } from "./subscription.js";

/** How long and how often to retry transient failures before giving up with EventStoreUnavailableError. */
export interface RetryPolicy {
  /** Total time to keep retrying one operation; default 15 s (a JetStream leader election takes ~7 s). */
  budgetMs: number;
  /** First delay; doubled after each failure up to maxDelayMs (with jitter). */
  initialDelayMs: number;
  maxDelayMs: number;
}

export const DEFAULT_RETRY_POLICY: RetryPolicy = { budgetMs: 15_000, initialDelayMs: 50, maxDelayMs: 1_000 };

/** What an adapter tells the retry loop about its client's errors. */
export interface ErrorClassifier {
  isTransient(error: unknown): boolean;
  /** Maps any failure to one of our errors. */
  toStoreError(error: unknown, what: string): EventStoreError;
}

/**
 * Runs `operation`, retrying transient failures with exponential backoff within the policy's time budget,
 * then failing with EventStoreUnavailableError. Our own errors and permanent failures are not retried.
 */
export async function retrying<T>(
  what: string,
  policy: RetryPolicy,
  classifier: ErrorClassifier,
  operation: () => Promise<T>,
  signal?: AbortSignal,
): Promise<T> {
  const started = Date.now();
  let delay = policy.initialDelayMs;
  for (let attempt = 1; ; attempt++) {
    try {
      return await operation();
    } catch (error) {
      if (error instanceof EventStoreError || !classifier.isTransient(error)) throw classifier.toStoreError(error, what);
      const elapsed = Date.now() - started;
      if (elapsed + delay > policy.budgetMs || signal?.aborted) {
        const message = error instanceof Error ? error.message : String(error);
        throw new EventStoreUnavailableError(`${what}: ${message} (gave up after ${attempt} attempts in ${elapsed} ms)`, error);
      }
      await sleep(delay / 2 + Math.random() * (delay / 2), signal);
      delay = Math.min(delay * 2, policy.maxDelayMs);
    }
  }
}

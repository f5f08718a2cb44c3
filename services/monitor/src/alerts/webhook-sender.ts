import type { Logger } from "@eas/telemetry";

export interface WebhookPolicy {
  /** Longest wait for one answer; a webhook that never answers costs this much per attempt, and only to its own queue. */
  timeoutMs: number;
  /** Attempts before giving up (recorded as a failure). */
  attempts: number;
  /** First pause between attempts; doubles each time, up to maxBackoffMs, with jitter. */
  backoffMs: number;
  maxBackoffMs: number;
}

export type WebhookOutcome = { delivered: true; statusCode: number } | { delivered: false; error: string };

/** One post the log says is owed: an alert transition or a budget alert with no outcome recorded yet. */
export interface WebhookDelivery {
  /** Posts of one queue go out in order, one at a time; queues never wait on each other. */
  queue: string;
  /** Names the delivery across restarts; sent as the `idempotency-key` header. */
  key: string;
  url: string;
  body: object;
  /** Writes the outcome to the log, which clears the delivery from the projection that listed it. */
  record(attempts: number, outcome: WebhookOutcome, at: string): Promise<void>;
}

export interface WebhookSenderDeps {
  policy: WebhookPolicy;
  logger: Logger;
  now: () => Date;
  random?: () => number;
}

class Permanent extends Error {}

/**
 * Posts what the log says is owed, following it: every delivery listed to `sync` and not taken yet is
 * queued, after a restart too, until its outcome is recorded. Each queue (an alert rule, a budget) posts
 * in order; retries back off; one queue's slow or dead webhook never delays another, nor the caller.
 * A 2xx is delivered; a 4xx other than 408 and 429 fails at once; anything else is retried.
 */
export function createWebhookSender(deps: WebhookSenderDeps) {
  const { policy, logger } = deps;
  const random = deps.random ?? Math.random;
  const queues = new Map<string, Promise<void>>();
  /** Keys queued, being delivered, or delivered but not yet cleared by the projection, with their queue. */
  const taken = new Map<string, string>();
  const stopping = new AbortController();

  const sleep = (ms: number) =>
    new Promise<void>((resolve) => {
      const timer = setTimeout(resolve, ms);
      stopping.signal.addEventListener("abort", () => {
        clearTimeout(timer);
        resolve();
      });
    });

  const post = async (delivery: WebhookDelivery): Promise<number> => {
    const response = await fetch(delivery.url, {
      method: "POST",
      headers: { "content-type": "application/json", "user-agent": "eas-monitor", "idempotency-key": delivery.key },
      body: JSON.stringify(delivery.body),
      signal: AbortSignal.any([AbortSignal.timeout(policy.timeoutMs), stopping.signal]),
    });
    await response.body?.cancel().catch(() => undefined);
    if (response.ok) return response.status;
    const retryable = response.status >= 500 || response.status === 408 || response.status === 429;
    const error = `HTTP ${response.status}`;
    throw retryable ? new Error(error) : new Permanent(error);
  };

  const record = async (delivery: WebhookDelivery, attempts: number, outcome: WebhookOutcome) => {
    await delivery
      .record(attempts, outcome, deps.now().toISOString())
      .catch((error: unknown) =>
        logger.error({ err: error, key: delivery.key }, "could not record the webhook outcome; it is posted again after a restart"),
      );
  };

  const deliver = async (delivery: WebhookDelivery) => {
    let lastError = "";
    for (let attempt = 1; attempt <= policy.attempts; attempt++) {
      if (stopping.signal.aborted) return;
      try {
        const statusCode = await post(delivery);
        await record(delivery, attempt, { delivered: true, statusCode });
        return;
      } catch (error) {
        if (stopping.signal.aborted) return;
        lastError =
          error instanceof Error
            ? error.name === "TimeoutError"
              ? `no answer within ${policy.timeoutMs} ms`
              : error.message
            : String(error);
        logger.warn({ key: delivery.key, attempt, error: lastError }, "webhook failed");
        if (error instanceof Permanent) {
          await record(delivery, attempt, { delivered: false, error: lastError });
          return;
        }
        if (attempt < policy.attempts) {
          const pause = Math.min(policy.maxBackoffMs, policy.backoffMs * 2 ** (attempt - 1));
          await sleep(pause / 2 + (random() * pause) / 2);
        }
      }
    }
    await record(delivery, policy.attempts, { delivered: false, error: lastError });
  };

  return {
    /** Queues every delivery not queued yet; forgets keys the log has cleared once their queue is idle. */
    sync(deliveries: Iterable<WebhookDelivery>): void {
      if (stopping.signal.aborted) return;
      const pending = new Set<string>();
      for (const delivery of deliveries) {
        pending.add(delivery.key);
        if (taken.has(delivery.key)) continue;
        taken.set(delivery.key, delivery.queue);
        const previous = queues.get(delivery.queue) ?? Promise.resolve();
        const next = previous.then(() => deliver(delivery));
        queues.set(delivery.queue, next);
        void next.finally(() => {
          if (queues.get(delivery.queue) === next) queues.delete(delivery.queue);
        });
      }
      for (const [key, queue] of taken) if (!pending.has(key) && !queues.has(queue)) taken.delete(key);
    },
    /** Stops retrying and waits for the posts in progress to end. */
    async stop(): Promise<void> {
      stopping.abort();
      await Promise.allSettled([...queues.values()]);
    },
  };
}

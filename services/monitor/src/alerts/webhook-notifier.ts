import type { AlertRule } from "@eas/proto";
import type { Logger } from "@eas/telemetry";
import type { AlertCommand } from "../domain/alert-decider.js";
import type { AlertsState, PendingWebhook } from "../projections/alerts.js";

export interface WebhookPolicy {
  /** Longest wait for one answer; a webhook that never answers costs this much per attempt, and only to its own rule. */
  timeoutMs: number;
  /** Attempts before giving up (recorded as AlertWebhookFailed). */
  attempts: number;
  /** First pause between attempts; doubles each time, up to maxBackoffMs, with jitter. */
  backoffMs: number;
  maxBackoffMs: number;
}

export interface WebhookNotifierDeps {
  policy: WebhookPolicy;
  /** Records the outcome in the log, which clears the pending transition from the projection. */
  execute(ruleId: string, command: AlertCommand): Promise<void>;
  logger: Logger;
  now: () => Date;
  random?: () => number;
}

/** The JSON body POSTed to a rule's webhook. */
export interface WebhookBody {
  status: "firing" | "resolved";
  rule: Pick<AlertRule, "id" | "service" | "metric" | "comparison" | "threshold" | "windowSeconds" | "description">;
  episode: number;
  /** The metric's value at the transition; null when it had none (a resolve because requests stopped). */
  value: number | null;
  at: string;
}

class Permanent extends Error {}

const keyOf = (ruleId: string, w: Pick<PendingWebhook, "episode" | "transition">) => `${ruleId}:${w.episode}:${w.transition}`;

/**
 * Posts alert transitions to their rules' webhooks, following the log: whatever the alerts projection
 * shows as pending (fired or resolved, no outcome recorded yet) is delivered, after a restart too. Each
 * rule has its own queue, in order; retries back off; one rule's slow or dead webhook never delays
 * another's, nor the evaluation of rules.
 */
export function createWebhookNotifier(deps: WebhookNotifierDeps) {
  const { policy, logger } = deps;
  const random = deps.random ?? Math.random;
  const queues = new Map<string, Promise<void>>();
  /** Keys queued, being delivered, or delivered but not yet cleared by the projection. */
  const taken = new Set<string>();
  const stopping = new AbortController();

  const sleep = (ms: number) =>
    new Promise<void>((resolve) => {
      const timer = setTimeout(resolve, ms);
      stopping.signal.addEventListener("abort", () => {
        clearTimeout(timer);
        resolve();
      });
    });

  const post = async (url: string, body: WebhookBody, key: string): Promise<number> => {
    const response = await fetch(url, {
      method: "POST",
      headers: { "content-type": "application/json", "user-agent": "eas-monitor", "idempotency-key": key },
      body: JSON.stringify(body),
      signal: AbortSignal.any([AbortSignal.timeout(policy.timeoutMs), stopping.signal]),
    });
    await response.body?.cancel().catch(() => undefined);
    if (response.ok) return response.status;
    const retryable = response.status >= 500 || response.status === 408 || response.status === 429;
    const error = `HTTP ${response.status}`;
    throw retryable ? new Error(error) : new Permanent(error);
  };

  const deliver = async (rule: AlertRule, webhook: PendingWebhook) => {
    const key = keyOf(rule.id, webhook);
    const body: WebhookBody = {
      status: webhook.transition,
      rule: {
        id: rule.id,
        service: rule.service,
        metric: rule.metric,
        comparison: rule.comparison,
        threshold: rule.threshold,
        windowSeconds: rule.windowSeconds,
        description: rule.description,
      },
      episode: webhook.episode,
      value: webhook.value ?? null,
      at: webhook.at,
    };
    let lastError = "";
    for (let attempt = 1; attempt <= policy.attempts; attempt++) {
      if (stopping.signal.aborted) return;
      try {
        const statusCode = await post(rule.webhookUrl, body, key);
        await record(rule.id, webhook, attempt, { delivered: true, statusCode });
        return;
      } catch (error) {
        if (stopping.signal.aborted) return;
        lastError =
          error instanceof Error
            ? error.name === "TimeoutError"
              ? `no answer within ${policy.timeoutMs} ms`
              : error.message
            : String(error);
        logger.warn({ ruleId: rule.id, attempt, error: lastError }, "alert webhook failed");
        if (error instanceof Permanent) {
          await record(rule.id, webhook, attempt, { delivered: false, error: lastError });
          return;
        }
        if (attempt < policy.attempts) {
          const pause = Math.min(policy.maxBackoffMs, policy.backoffMs * 2 ** (attempt - 1));
          await sleep(pause / 2 + (random() * pause) / 2);
        }
      }
    }
    await record(rule.id, webhook, policy.attempts, { delivered: false, error: lastError });
  };

  const record = async (
    ruleId: string,
    webhook: PendingWebhook,
    attempts: number,
    outcome: { delivered: true; statusCode: number } | { delivered: false; error: string },
  ) => {
    const now = deps.now().toISOString();
    await deps
      .execute(ruleId, { type: "RecordWebhook", ruleId, episode: webhook.episode, transition: webhook.transition, attempts, outcome, now })
      .catch((error: unknown) =>
        logger.error({ err: error, ruleId }, "could not record the webhook outcome; it is posted again after a restart"),
      );
  };

  return {
    /** Queues every pending transition of `state` not queued yet; forgets keys the log has cleared. */
    sync(state: AlertsState): void {
      if (stopping.signal.aborted) return;
      const pending = new Set<string>();
      for (const [ruleId, view] of Object.entries(state)) {
        for (const webhook of view.pendingWebhooks) {
          const key = keyOf(ruleId, webhook);
          pending.add(key);
          if (taken.has(key) || !view.rule.webhookUrl) continue;
          taken.add(key);
          const rule = view.rule;
          const previous = queues.get(ruleId) ?? Promise.resolve();
          const next = previous.then(() => deliver(rule, webhook));
          queues.set(ruleId, next);
          void next.finally(() => {
            if (queues.get(ruleId) === next) queues.delete(ruleId);
          });
        }
      }
      for (const key of taken) if (!pending.has(key) && ![...queues.keys()].some((id) => key.startsWith(`${id}:`))) taken.delete(key);
    },
    /** Stops retrying and waits for the posts in progress to end. */
    async stop(): Promise<void> {
      stopping.abort();
      await Promise.allSettled([...queues.values()]);
    },
  };
}

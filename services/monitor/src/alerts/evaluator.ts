import type { ProjectionRunner } from "@eas/projections";
import type { SeriesPoint } from "@eas/proto";
import type { Logger } from "@eas/telemetry";
import type { AlertCommand } from "../domain/alert-decider.js";
import { evaluateRule, NO_PROGRESS, type Comparison, type RuleProgress } from "../domain/alert-rules.js";
import { findMetric, readMetrics } from "../domain/metrics.js";
import type { AlertsState } from "../projections/alerts.js";

export interface AlertEvaluatorDeps {
  alerts: ProjectionRunner<AlertsState>;
  knownService(service: string): boolean;
  instancesReady(service: string): number;
  /** Writes a transition through the alert decider (which drops one the log already has). */
  execute(ruleId: string, command: AlertCommand): Promise<void>;
  logger: Logger;
  now: () => Date;
}

/**
 * Evaluates every rule on each closed second. Transitions are written to the log in the background:
 * evaluation never waits on the log, and never on a webhook (those follow the log, see webhook-notifier).
 */
export function createAlertEvaluator(deps: AlertEvaluatorDeps) {
  const progress = new Map<string, RuleProgress>();
  const writing = new Set<string>();

  return (secondMs: number, points: readonly SeriesPoint[]): void => {
    if (!deps.alerts.isCaughtUp()) return;
    const reported = new Map(points.map((point) => [point.service, point]));
    const rules = deps.alerts.state;
    for (const ruleId of progress.keys()) if (!rules[ruleId]) progress.delete(ruleId);
    for (const [ruleId, view] of Object.entries(rules)) {
      const { rule } = view;
      const metric = findMetric(rule.metric);
      if (!metric || !deps.knownService(rule.service)) continue;
      const value =
        rule.metric === "instances_ready"
          ? deps.instancesReady(rule.service)
          : readMetrics(reported.get(rule.service)?.total, 1, [metric])[0];
      const result = evaluateRule({
        comparison: rule.comparison as Comparison,
        threshold: rule.threshold,
        windowSeconds: rule.windowSeconds,
        firing: view.firing !== undefined,
        progress: progress.get(ruleId) ?? NO_PROGRESS,
        secondMs,
        value,
      });
      progress.set(ruleId, result.progress);
      if (!result.transition || writing.has(ruleId)) continue;
      const now = deps.now().toISOString();
      const command: AlertCommand =
        result.transition === "fire" ? { type: "FireAlert", ruleId, value: value ?? 0, now } : { type: "ResolveAlert", ruleId, value, now };
      writing.add(ruleId);
      deps
        .execute(ruleId, command)
        .catch((error: unknown) =>
          deps.logger.error({ err: error, ruleId, transition: result.transition }, "could not record the alert transition"),
        )
        .finally(() => writing.delete(ruleId));
    }
  };
}

import { randomBytes } from "node:crypto";
import type { ServerWritableStream, UntypedServiceImplementation } from "@grpc/grpc-js";
import { NotFoundError, ValidationError } from "@eas/decider";
import type { ProjectionRunner } from "@eas/projections";
import type { AlertRule, LatestPoint, MonitorServer, WatchLatestRequest } from "@eas/proto";
import { toServiceError, unary } from "@eas/service-kit";
import type { Logger } from "@eas/telemetry";
import type { AlertCommand } from "../domain/alert-decider.js";
import { ruleViolations } from "../domain/alert-rules.js";
import { METRICS } from "../domain/metrics.js";
import { evaluateQuery, planQuery, type QueryContext } from "../domain/query.js";
import type { LiveHub } from "../pipeline/live-hub.js";
import type { AlertsState } from "../projections/alerts.js";
import type { SeriesReader } from "../series/series-reader.js";

export interface MonitorApiDeps {
  alerts: ProjectionRunner<AlertsState>;
  knownService(service: string): boolean;
  reader: SeriesReader;
  live: LiveHub;
  queryContext(): Omit<QueryContext, "knownService">;
  /** Runs a command on an alert rule's stream and returns the log position it reached. */
  execute(ruleId: string, command: AlertCommand): Promise<number | undefined>;
  logger: Logger;
  now: () => Date;
}

function requireKnownOrEmpty(service: string, knownService: (name: string) => boolean): void {
  if (service && !knownService(service)) throw new ValidationError([{ path: "service", message: `unknown service "${service}"` }]);
}

/** The Monitor gRPC API: validates, reads the series and the alert projection, writes rules through the alert decider. */
export function createMonitorApi(deps: MonitorApiDeps): MonitorServer {
  const { alerts, logger, knownService } = deps;

  const ruleOf = (id: string): AlertRule => {
    const view = alerts.state[id];
    if (!view) throw new NotFoundError("alert rule", id);
    return view.rule;
  };

  const watchLatest = (call: ServerWritableStream<WatchLatestRequest, LatestPoint>) => {
    const { service } = call.request;
    try {
      requireKnownOrEmpty(service, knownService);
    } catch (error) {
      const status = toServiceError(error);
      call.destroy(Object.assign(new Error(status.details), status));
      return;
    }
    // A client that stops reading misses seconds rather than growing our memory.
    let blocked = false;
    call.on("drain", () => (blocked = false));
    const stop = deps.live.watch(service || undefined, (point) => {
      if (!blocked && !call.write(point)) blocked = true;
    });
    call.on("cancelled", stop);
    call.on("close", stop);
    call.on("error", stop);
  };

  return {
    querySeries: unary(logger, async (request) => {
      const plan = planQuery(request, { ...deps.queryContext(), knownService });
      const points = await deps.reader.read(plan);
      return {
        service: plan.service,
        fromMs: plan.fromMs,
        toMs: plan.toMs,
        stepSeconds: plan.stepMs / 1000,
        series: evaluateQuery(plan, points),
      };
    }),
    watchLatest,
    listMetrics: unary(logger, async () => ({
      metrics: METRICS.map((metric) => ({
        name: metric.name,
        unit: metric.unit,
        description: metric.description,
        perVersion: metric.breakdown,
        perInstance: metric.breakdown,
      })),
    })),
    createAlertRule: unary(logger, async (request) => {
      const violations = ruleViolations(request, knownService);
      if (violations.length > 0) throw new ValidationError(violations);
      const rule: AlertRule = {
        id: `r${randomBytes(4).toString("hex")}`,
        service: request.service,
        metric: request.metric,
        comparison: request.comparison,
        threshold: request.threshold,
        windowSeconds: request.windowSeconds,
        webhookUrl: request.webhookUrl,
        description: request.description,
        createdAt: deps.now().toISOString(),
      };
      const position = await deps.execute(rule.id, { type: "CreateAlertRule", rule });
      if (position !== undefined) await alerts.waitForPosition(position);
      return ruleOf(rule.id);
    }),
    listAlertRules: unary(logger, async (request) => {
      requireKnownOrEmpty(request.service, knownService);
      const rules = Object.values(alerts.state)
        .map((view) => view.rule)
        .filter((rule) => !request.service || rule.service === request.service)
        .sort((a, b) => a.service.localeCompare(b.service) || a.createdAt.localeCompare(b.createdAt));
      return { rules };
    }),
    deleteAlertRule: unary(logger, async (request) => {
      if (!request.id) throw new ValidationError([{ path: "id", message: "is required" }]);
      const rule = ruleOf(request.id);
      const position = await deps.execute(rule.id, { type: "DeleteAlertRule", ruleId: rule.id, now: deps.now().toISOString() });
      if (position !== undefined) await alerts.waitForPosition(position);
      return rule;
    }),
    listFiringAlerts: unary(logger, async (request) => {
      requireKnownOrEmpty(request.service, knownService);
      const firing = Object.values(alerts.state)
        .filter((view) => view.firing && (!request.service || view.rule.service === request.service))
        .map((view) => ({ rule: view.rule, episode: view.firing!.episode, value: view.firing!.value, firedAt: view.firing!.firedAt }))
        .sort((a, b) => a.firedAt.localeCompare(b.firedAt));
      return { alerts: firing };
    }),
  } satisfies MonitorServer & UntypedServiceImplementation;
}

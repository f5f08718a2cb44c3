import { randomBytes } from "node:crypto";
import { alertStream, budgetAlertStream, stressStream } from "@eas/events";
import { MonitorService, StressService } from "@eas/proto";
import { createServiceHost, executeCommand, readConfig } from "@eas/service-kit";
import type { Telemetry } from "@eas/telemetry";
import { Counter, Gauge } from "prom-client";
import { budgetWebhookDeliveries } from "./alerts/budget-webhooks.js";
import { ruleWebhookDeliveries } from "./alerts/rule-webhooks.js";
import { createWebhookSender } from "./alerts/webhook-sender.js";
import { createAlertEvaluator } from "./alerts/evaluator.js";
import { createMonitorApi } from "./api/monitor-api.js";
import { monitorConfigSpec } from "./config.js";
import { alertDecider, type AlertCommand } from "./domain/alert-decider.js";
import { budgetAlertDecider, type BudgetAlertCommand } from "./domain/budget-alert-decider.js";
import { SecondAggregator } from "./domain/second-aggregator.js";
import { LiveHub } from "./pipeline/live-hub.js";
import { createPrometheusExporter } from "./pipeline/prometheus-exporter.js";
import { recoverRecentPoints, startSecondLoop } from "./pipeline/second-loop.js";
import { alertsProjection } from "./projections/alerts.js";
import { budgetWebhooksProjection } from "./projections/budget-webhooks.js";
import { fleetProjection, readyInstances } from "./projections/fleet.js";
import { subscribeToSamples } from "./series/intake.js";
import { RecentPoints } from "./series/recent-points.js";
import { createSeriesReader } from "./series/series-reader.js";
import { createSeriesStore } from "./series/series-store.js";
import { createStressApi } from "./stress/api/stress-api.js";
import { stressDecider, type StressCommand } from "./stress/domain/stress-decider.js";
import { stressTasksProjection } from "./stress/projections/stress-tasks.js";
import { loadChartAssets } from "./stress/report/chart-assets.js";
import { createReportRenderer } from "./stress/report/render.js";
import { createDeployerClient } from "./stress/runner/deployer-client.js";
import { StressController } from "./stress/runner/stress-controller.js";
import { createStressObjects } from "./stress/runner/stress-objects.js";

/** Wires the monitor: everything that loads gRPC or HTTP code lives here, imported after telemetry started. */
export async function run(telemetry: Telemetry): Promise<void> {
  const config = readConfig(monitorConfigSpec);
  const host = await createServiceHost({ name: "monitor", telemetry, config });
  host.shutdown.installSignalHandlers();
  const source = `eas/monitor/${host.instanceId}`;
  const now = () => new Date();
  const retentionMs = { "1s": config.secondRetentionSeconds * 1000, "1m": config.minuteRetentionDays * 86_400_000 };

  const fleet = await host.runProjection(fleetProjection, { describe: (state) => Object.keys(state).length });
  const knownService = (service: string) => service in fleet.state;
  const instancesReady = (service: string) => readyInstances(fleet.state, service);

  const execute = async (ruleId: string, command: AlertCommand) =>
    (await executeCommand({ store: host.store, stream: alertStream(ruleId), decider: alertDecider, command, source })).position;
  const executeBudgetAlert = async (service: string, command: BudgetAlertCommand) =>
    void (await executeCommand({ store: host.store, stream: budgetAlertStream(service), decider: budgetAlertDecider, command, source }));
  // Webhooks follow the log: what the alert rules' and the budgets' projections show as owed is posted,
  // each rule and each budget in its own queue (docs/monitoring.md, "Webhooks").
  const webhooks = createWebhookSender({
    policy: {
      timeoutMs: config.webhookTimeoutMs,
      attempts: config.webhookAttempts,
      backoffMs: config.webhookBackoffMs,
      maxBackoffMs: 60_000,
    },
    logger: host.logger,
    now,
  });
  const webhooksReady = { ready: false };
  const syncWebhooks = () => {
    if (!webhooksReady.ready) return;
    webhooks.sync([
      ...ruleWebhookDeliveries(alerts.state, async (ruleId, command) => void (await execute(ruleId, command))),
      ...budgetWebhookDeliveries(budgetWebhooks.state, executeBudgetAlert),
    ]);
  };
  const alerts = await host.runProjection(alertsProjection, {
    onEvent: syncWebhooks,
    describe: (state) => Object.values(state).map((view) => ({ id: view.rule.id, service: view.rule.service, firing: !!view.firing })),
  });
  const budgetWebhooks = await host.runProjection(budgetWebhooksProjection, {
    onEvent: syncWebhooks,
    describe: (state) =>
      Object.entries(state).map(([service, view]) => ({ service, webhook: !!view.webhookUrl, owed: view.pending.length })),
  });
  host.shutdown.onShutdown("webhooks", () => webhooks.stop(), "drain");

  // Series: JetStream for history, memory for the last minutes, reloaded at start so a restart keeps them.
  const store = createSeriesStore({ bus: host.bus, retentionMs, replicas: config.jetStreamReplicas });
  await store.ensureStreams();
  const startedAt = Date.now();
  const recent = new RecentPoints(config.recentSeconds * 1000, startedAt);
  const recovered = await recoverRecentPoints(recent, store, startedAt);
  host.logger.info(recovered, "reloaded recent points");

  const aggregator = new SecondAggregator(Math.floor(Date.now() / 1000) * 1000);
  const samples = new Counter({
    name: "eas_monitor_samples_total",
    help: "Samples received, by kind (gateway, instance) and outcome (accepted, late, future, invalid)",
    labelNames: ["kind", "outcome"],
    registers: [host.metrics],
  });
  const intake = subscribeToSamples(host.bus, aggregator, (kind, outcome) => samples.inc({ kind, outcome }));
  host.shutdown.onShutdown("samples", () => intake.close(), "stop-accepting");
  new Gauge({
    name: "eas_monitor_recent_points_bytes",
    help: "Memory held by the 1-second points kept in memory",
    registers: [host.metrics],
    collect() {
      this.set(recent.bytes);
    },
  });

  const live = new LiveHub(instancesReady);
  const loop = startSecondLoop({
    aggregator,
    recent,
    store,
    fleet: { instancesReady },
    finalizeDelayMs: config.finalizeDelayMs,
    listeners: [
      live.onSecond,
      createPrometheusExporter(host.metrics, instancesReady),
      createAlertEvaluator({
        alerts,
        knownService,
        instancesReady,
        execute: async (id, c) => void (await execute(id, c)),
        logger: host.logger,
        now,
      }),
    ],
    onError: (error, what) => host.logger.error({ err: error }, `monitor loop: ${what} failed`),
  });
  host.shutdown.onShutdown("second-loop", () => loop.stop(), "drain");

  host.addGrpcService(
    MonitorService,
    createMonitorApi({
      alerts,
      knownService,
      reader: createSeriesReader(recent, store),
      live,
      queryContext: () => ({
        nowMs: Date.now(),
        closedThroughMs: aggregator.closedThroughMs,
        secondRetentionMs: retentionMs["1s"],
        minuteRetentionMs: retentionMs["1m"],
      }),
      execute,
      logger: host.logger,
      now,
    }),
  );
  // Stress tests: tasks on streams "stress-<id>", load workers run by the agents (docs/stress-tests.md, ADR 0035).
  const stressTasks = await host.runProjection(stressTasksProjection, {
    describe: (state) => Object.values(state).map((task) => ({ id: task.id, service: task.spec?.serviceName, status: task.status })),
  });
  const deployer = createDeployerClient(config.deployerAddress);
  host.shutdown.onShutdown("deployer-client", () => deployer.close(), "close-connections");
  const stressObjects = createStressObjects(host.bus);
  const renderReport = createReportRenderer(await loadChartAssets(), now);
  const executeStress = async (taskId: string, command: StressCommand) =>
    (await executeCommand({ store: host.store, stream: stressStream(taskId), decider: stressDecider, command, source })).position;
  const stressController = new StressController({
    bus: host.bus,
    deployer,
    execute: executeStress,
    taskInfo: (taskId) => stressTasks.state[taskId],
    writeReport: (info, points) => {
      const { html, json } = renderReport(info, points);
      return stressObjects.putReport(info.id, html, json);
    },
    gatewayUrl: config.gatewayUrl,
    workerNatsUrl: config.stressWorkerNatsUrl ?? config.natsUrl.split(",")[0]!,
    workerCpu: config.stressWorkerCpu,
    workerMemoryMib: config.stressWorkerMemoryMib,
    workerStartTimeoutMs: config.stressWorkerStartTimeoutS * 1000,
    logger: host.logger,
    now: () => Date.now(),
  });
  host.shutdown.onShutdown("stress-tasks", () => stressController.stopAll("the monitor shut down"), "drain");
  host.addGrpcService(
    StressService,
    createStressApi({
      tasks: stressTasks,
      controller: stressController,
      deployer,
      objects: stressObjects,
      execute: executeStress,
      limits: { maxDurationSeconds: config.stressMaxDurationS, maxQps: config.stressMaxQps, maxAgentCount: config.stressMaxAgentCount },
      renderReport,
      newTaskId: () => `t${randomBytes(4).toString("hex")}`,
      logger: host.logger,
      now,
    }),
  );

  host.addDebugEndpoint("series", () => ({ services: recent.services().length, recentBytes: recent.bytes, watchers: live.watcherCount }));
  await host.listen();

  // Webhooks owed from before a restart go out once the alert and budget histories are known.
  await Promise.all([alerts.caughtUp, budgetWebhooks.caughtUp]);
  webhooksReady.ready = true;
  syncWebhooks();
  await stressTasks.caughtUp;
  await stressController.recover(Object.values(stressTasks.state));
}

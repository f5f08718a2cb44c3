import { autoscalerStream, cronScaleStream } from "@eas/events";
import { AutoscalerService } from "@eas/proto";
import { createServiceHost, executeCommand, readConfig } from "@eas/service-kit";
import type { Telemetry } from "@eas/telemetry";
import { createAutoscalerApi } from "./api/autoscaler-api.js";
import { autoscalerConfigSpec } from "./config.js";
import { CronRunner } from "./control/cron-runner.js";
import { createDeployerReplicaSetter } from "./control/deployer-client.js";
import { openKvLease } from "./control/kv-lease.js";
import { subscribeToLoad } from "./control/sample-intake.js";
import { Scaler } from "./control/scaler.js";
import { startSecondTicker } from "./control/ticker.js";
import { cronDecider, type CronCommand } from "./domain/cron-decider.js";
import { policyDecider, type PolicyCommand } from "./domain/policy-decider.js";
import { autoscalerViewProjection, isReady } from "./projections/autoscaler-view.js";

/** Wires the autoscaler: everything that loads gRPC or HTTP code lives here, imported after telemetry started. */
export async function run(telemetry: Telemetry): Promise<void> {
  const config = readConfig(autoscalerConfigSpec);
  const host = await createServiceHost({ name: "autoscaler", telemetry, config });
  host.shutdown.installSignalHandlers();
  const source = `eas/autoscaler/${host.instanceId}`;
  const now = () => Date.now();

  const view = await host.runProjection(autoscalerViewProjection, {
    describe: (state) =>
      Object.fromEntries(
        Object.entries(state)
          .filter(([, s]) => s.policy || s.cron)
          .map(([name, s]) => [name, { desired: s.desiredReplicas, policy: Boolean(s.policy), cronJobs: s.cron?.jobs.length ?? 0 }]),
      ),
  });
  const executePolicy = async (service: string, command: PolicyCommand) =>
    (await executeCommand({ store: host.store, stream: autoscalerStream(service), decider: policyDecider, command, source })).position;
  const executeCron = async (service: string, command: CronCommand) =>
    (await executeCommand({ store: host.store, stream: cronScaleStream(service), decider: cronDecider, command, source })).position;

  const replicas = createDeployerReplicaSetter(config.deployerAddress);
  host.shutdown.onShutdown("deployer client", () => replicas.close(), "close-connections");
  const scaler = new Scaler({
    view: () => view.state,
    replicas,
    record: async (service, command) => void (await executePolicy(service, command)),
    logger: host.logger,
    now,
    keepSeconds: config.historySeconds,
  });
  const cron = new CronRunner({
    view: () => view.state,
    replicas,
    record: async (service, command) => (await executeCron(service, command)) !== undefined,
    current: (service) => scaler.current(service),
    applyFloor: (service) => scaler.wake(service),
    logger: host.logger,
    now,
    catchUpMs: config.cronCatchUpSeconds * 1000,
  });

  // Samples are folded in by every autoscaler process, active or standby, so a takeover has warm windows.
  for (const subscription of subscribeToLoad(host.bus, scaler, (service, instanceId) => isReady(view.state[service], instanceId))) {
    host.shutdown.onShutdown("load samples", () => subscription.drain(), "stop-accepting");
  }

  host.addGrpcService(
    AutoscalerService,
    createAutoscalerApi({
      view,
      executePolicy,
      executeCron,
      snapshot: (service) => scaler.snapshot(service),
      current: (service) => scaler.current(service),
      logger: host.logger,
      now: () => new Date(),
    }),
  );
  host.addDebugEndpoint("scaling", () => ({ active: scaler.active }));
  await host.listen();

  // Decide only from a caught-up view (a partial replay knows neither the policies nor the counts), and
  // only while holding the lease: one active autoscaler at a time.
  await view.caughtUp;
  const ticker = startSecondTicker(() => {
    if (!scaler.active) return;
    cron.tick();
    scaler.tick();
  });
  host.shutdown.onShutdown("ticker", () => ticker.stop(), "stop-accepting");
  const lease = await openKvLease(host.bus.keyValue(), {
    bucket: "eas_leases",
    key: "autoscaler",
    holder: source,
    ttlMs: config.leaseTtlMs,
    logger: host.logger,
    onChange: (held) => scaler.setActive(held),
  });
  host.shutdown.onShutdown("lease", () => lease.release(), "stop-accepting");
  await lease.start();
}

import { ServiceManagerService } from "@eas/proto";
import { createServiceHost, readConfig } from "@eas/service-kit";
import { createServiceManager } from "./api/service-manager.js";
import { deployerConfigSpec } from "./config.js";
import { serviceViewsProjection } from "./projections/service-views.js";
import { summarizeStatus } from "./projections/status.js";
import { startReconciler } from "./reconcile/reconciler.js";
import { createServiceTokens, kvTokenVault, TOKEN_BUCKET } from "./tokens/service-tokens.js";
import type { Telemetry } from "@eas/telemetry";

/** Wires the deployer: everything that loads gRPC or HTTP code lives here, imported after telemetry started. */
export async function run(telemetry: Telemetry): Promise<void> {
  const config = readConfig(deployerConfigSpec);
  const host = await createServiceHost({ name: "deployer", telemetry, config });
  host.shutdown.installSignalHandlers();
  const source = `eas/deployer/${host.instanceId}`;

  // The reconciler starts once the view has caught up; until then view changes nudge nothing.
  const viewChanged: { nudge?: () => void } = {};
  const views = await host.runProjection(serviceViewsProjection, {
    onEvent: () => viewChanged.nudge?.(),
    describe: (state) =>
      Object.fromEntries(Object.values(state).map((v) => [v.name, { version: v.currentVersion, status: summarizeStatus(v).status }])),
  });

  const tokens = createServiceTokens({
    vault: kvTokenVault(await host.bus.keyValue().create(TOKEN_BUCKET, { history: 1 })),
    store: host.store,
  });
  host.addGrpcService(
    ServiceManagerService,
    createServiceManager({
      store: host.store,
      views,
      logger: host.logger,
      gatewayUrl: config.gatewayUrl,
      tokens,
      now: () => new Date(),
      source,
    }),
  );
  await host.listen();

  // Reconcile only from a caught-up view: acting on a partial replay would create duplicates.
  await views.caughtUp;
  const reconciler = startReconciler({
    store: host.store,
    views,
    schedulerAddress: config.schedulerAddress,
    logger: host.logger,
    source,
    rebalanceIntervalMs: config.rebalanceIntervalMs,
  });
  viewChanged.nudge = reconciler.nudge;
  host.shutdown.onShutdown("reconciler", () => reconciler.stop(), "stop-accepting");
}

import { BillingService } from "@eas/proto";
import { createServiceHost, readConfig } from "@eas/service-kit";
import type { Telemetry } from "@eas/telemetry";
import { createBillingApi } from "./api/billing-api.js";
import { startBudgetWatch } from "./budgets/budget-watch.js";
import { billingConfigSpec } from "./config.js";
import { budgetsProjection } from "./projections/budgets.js";
import { meteringProjection } from "./projections/metering.js";

/** Wires the billing: everything that loads gRPC or HTTP code lives here, imported after telemetry started. */
export async function run(telemetry: Telemetry): Promise<void> {
  const config = readConfig(billingConfigSpec);
  const host = await createServiceHost({ name: "billing", telemetry, config });
  host.shutdown.installSignalHandlers();
  const source = `eas/billing/${host.instanceId}`;
  const now = () => new Date();

  const metering = await host.runProjection(meteringProjection, {
    describe: (state) => ({
      nodes: Object.keys(state.nodes).length,
      intervals: Object.keys(state.intervals).length,
      open: Object.keys(state.open).length,
    }),
  });
  const budgets = await host.runProjection(budgetsProjection, { checkpoint: false });

  host.addGrpcService(BillingService, createBillingApi({ store: host.store, metering, budgets, logger: host.logger, now, source }));
  await host.listen();

  const watch = startBudgetWatch({
    store: host.store,
    metering,
    budgets,
    logger: host.logger,
    now,
    source,
    intervalMs: config.budgetCheckMs,
  });
  host.shutdown.onShutdown("budget-watch", () => watch.stop(), "stop-accepting");
}

import { createServiceHost, readConfig } from "@eas/service-kit";
import { billingConfigSpec } from "./config.js";
import type { Telemetry } from "@eas/telemetry";

/** Wires the billing: everything that loads gRPC or HTTP code lives here, imported after telemetry started. */
export async function run(telemetry: Telemetry): Promise<void> {
  const config = readConfig(billingConfigSpec);
  const host = await createServiceHost({ name: "billing", telemetry, config });
  host.shutdown.installSignalHandlers();
  await host.listen();
}

import { createServiceHost, readConfig } from "@eas/service-kit";
import { autoscalerConfigSpec } from "./config.js";
import type { Telemetry } from "@eas/telemetry";

/** Wires the autoscaler: everything that loads gRPC or HTTP code lives here, imported after telemetry started. */
export async function run(telemetry: Telemetry): Promise<void> {
  const config = readConfig(autoscalerConfigSpec);
  const host = await createServiceHost({ name: "autoscaler", telemetry, config });
  host.shutdown.installSignalHandlers();
  await host.listen();
}

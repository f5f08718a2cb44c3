import { createServiceHost, readConfig } from "@eas/service-kit";
import { monitorConfigSpec } from "./config.js";
import type { Telemetry } from "@eas/telemetry";

/** Wires the monitor: everything that loads gRPC or HTTP code lives here, imported after telemetry started. */
export async function run(telemetry: Telemetry): Promise<void> {
  const config = readConfig(monitorConfigSpec);
  const host = await createServiceHost({ name: "monitor", telemetry, config });
  host.shutdown.installSignalHandlers();
  await host.listen();
}

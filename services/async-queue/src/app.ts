import { createServiceHost, readConfig } from "@eas/service-kit";
import { asyncQueueConfigSpec } from "./config.js";
import type { Telemetry } from "@eas/telemetry";

/** Wires the async-queue: everything that loads gRPC or HTTP code lives here, imported after telemetry started. */
export async function run(telemetry: Telemetry): Promise<void> {
  const config = readConfig(asyncQueueConfigSpec);
  const host = await createServiceHost({ name: "async-queue", telemetry, config });
  host.shutdown.installSignalHandlers();
  await host.listen();
}

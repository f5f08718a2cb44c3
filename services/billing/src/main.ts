// Composition root of the billing. Telemetry starts first, so that the gRPC and HTTP modules
// imported by app.ts are instrumented as they load (run with --import @eas/telemetry/register).
import { startTelemetry } from "@eas/telemetry";

const telemetry = startTelemetry({ serviceName: "eas-billing" });
const { run } = await import("./app.js");
await run(telemetry);

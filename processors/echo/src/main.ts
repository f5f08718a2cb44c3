/**
 * Composition root of the echo processor, started by the agent as
 * `node --conditions=source --import tsx processors/echo/src/main.ts`.
 * Reads env (PORT, HOST, EAS_PROCESSOR_CONFIG, EAS_INSTANCE_ID, EAS_SERVICE_VERSION,
 * EAS_STARTUP_DELAY_MS), listens, logs one JSON line when listening and drains on SIGTERM.
 */
import { parseEchoConfig } from "./config.js";
import { jsonLogger } from "./log.js";
import { createEchoServer, EchoServerClosedError } from "./server.js";

const log = jsonLogger({ processor: "echo", pid: process.pid, instance: process.env.EAS_INSTANCE_ID });

function intFromEnv(name: string, fallback: number): number {
  const text = process.env[name];
  if (text === undefined || text === "") return fallback;
  const value = Number(text);
  if (!Number.isInteger(value) || value < 0) throw new Error(`${name} must be a non-negative integer, got '${text}'`);
  return value;
}

async function main(): Promise<void> {
  const { config, warnings } = parseEchoConfig(process.env.EAS_PROCESSOR_CONFIG);
  for (const warning of warnings) log("warn", warning);
  const startupDelayMs = intFromEnv("EAS_STARTUP_DELAY_MS", 0);
  const server = createEchoServer({
    config,
    instanceId: process.env.EAS_INSTANCE_ID,
    version: process.env.EAS_SERVICE_VERSION,
    startupDelayMs,
    drainTimeoutMs: intFromEnv("EAS_DRAIN_TIMEOUT_MS", 30_000),
    logger: log,
  });

  let stopping = false;
  const stop = (signal: NodeJS.Signals): void => {
    if (stopping) return;
    stopping = true;
    log("info", "stopping", { signal });
    server.close().then(
      () => {
        log("info", "stopped");
        process.exit(0);
      },
      (error: unknown) => {
        log("error", "stop failed", { error: String(error) });
        process.exit(1);
      },
    );
  };
  process.once("SIGTERM", stop);
  process.once("SIGINT", stop);

  if (startupDelayMs > 0) log("info", "delaying startup", { startupDelayMs });
  try {
    const { port, host } = await server.listen(intFromEnv("PORT", 0), process.env.HOST ?? "127.0.0.1");
    log("info", "listening", { port, host, config });
  } catch (error) {
    // A stop requested during the startup delay is a clean exit, handled by `stop`.
    if (!(error instanceof EchoServerClosedError)) throw error;
  }
}

main().catch((error: unknown) => {
  log("error", "echo processor failed to start", { error: error instanceof Error ? error.message : String(error) });
  process.exit(1);
});

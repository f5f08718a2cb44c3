/**
 * Composition root of the echo processor, started by the agent as
 * `node --conditions=source --import tsx processors/echo/src/main.ts`.
 * Reads env (PORT, HOST, EAS_PROCESSOR_CONFIG, EAS_INSTANCE_ID, EAS_SERVICE_VERSION,
 * EAS_STARTUP_DELAY_MS), listens, logs one JSON line when listening and drains on SIGTERM.
 */
import { intFromEnv, runProcessor } from "@eas/processor-kit";
import { parseEchoConfig } from "./config.js";
import { createEchoServer, EchoServerClosedError } from "./server.js";

runProcessor({
  name: "echo",
  create(env, log) {
    const { config, warnings } = parseEchoConfig(env.EAS_PROCESSOR_CONFIG);
    for (const warning of warnings) log("warn", warning);
    const startupDelayMs = intFromEnv(env, "EAS_STARTUP_DELAY_MS", 0);
    const server = createEchoServer({
      config,
      instanceId: env.EAS_INSTANCE_ID,
      version: env.EAS_SERVICE_VERSION,
      startupDelayMs,
      drainTimeoutMs: intFromEnv(env, "EAS_DRAIN_TIMEOUT_MS", 30_000),
      logger: log,
    });
    return {
      server,
      startupDelayMs,
      listeningFields: { config },
      isStoppedBeforeListening: (error) => error instanceof EchoServerClosedError,
    };
  },
});

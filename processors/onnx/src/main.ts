/**
 * Composition root of the onnx processor, started by the agent as
 * `node --conditions=source --import tsx processors/onnx/src/main.ts`.
 * Reads env (PORT, HOST, EAS_MODEL_PATH, EAS_MODEL_NAME, EAS_PROCESSOR_CONFIG), loads the
 * model, logs one JSON line when it serves, and drains on SIGTERM.
 */
import { parseOnnxConfig } from "./config.js";
import { jsonLogger } from "./log.js";
import { createOnnxServer } from "./server.js";

const log = jsonLogger({ processor: "onnx", pid: process.pid, instance: process.env.EAS_INSTANCE_ID });

function intFromEnv(name: string, fallback: number): number {
  const text = process.env[name];
  if (text === undefined || text === "") return fallback;
  const value = Number(text);
  if (!Number.isInteger(value) || value < 0) throw new Error(`${name} must be a non-negative integer, got '${text}'`);
  return value;
}

async function main(): Promise<void> {
  const modelPath = process.env.EAS_MODEL_PATH;
  if (modelPath === undefined || modelPath === "") throw new Error("EAS_MODEL_PATH is not set");
  const { config, warnings } = parseOnnxConfig(process.env.EAS_PROCESSOR_CONFIG);
  for (const warning of warnings) log("warn", warning);
  const server = createOnnxServer({
    modelPath,
    modelName: process.env.EAS_MODEL_NAME || "model",
    config,
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

  const { port, host } = await server.listen(intFromEnv("PORT", 0), process.env.HOST ?? "127.0.0.1");
  if (!stopping) log("info", "listening", { port, host, model: process.env.EAS_MODEL_NAME || "model", modelPath });
}

main().catch((error: unknown) => {
  log("error", "onnx processor failed to start", { error: error instanceof Error ? error.message : String(error) });
  process.exit(1);
});

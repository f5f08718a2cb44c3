/**
 * Composition root of the onnx processor, started by the agent as
 * `node --conditions=source --import tsx processors/onnx/src/main.ts`.
 * Reads env (PORT, HOST, EAS_MODEL_PATH, EAS_MODEL_NAME, EAS_PROCESSOR_CONFIG), loads the
 * model, logs one JSON line when it serves, and drains on SIGTERM.
 */
import { intFromEnv, runProcessor } from "@eas/processor-kit";
import { parseOnnxConfig } from "./config.js";
import { createOnnxServer } from "./server.js";

runProcessor({
  name: "onnx",
  create(env, log) {
    const modelPath = env.EAS_MODEL_PATH;
    if (modelPath === undefined || modelPath === "") throw new Error("EAS_MODEL_PATH is not set");
    const { config, warnings } = parseOnnxConfig(env.EAS_PROCESSOR_CONFIG);
    for (const warning of warnings) log("warn", warning);
    const modelName = env.EAS_MODEL_NAME || "model";
    const server = createOnnxServer({
      modelPath,
      modelName,
      config,
      drainTimeoutMs: intFromEnv(env, "EAS_DRAIN_TIMEOUT_MS", 30_000),
      logger: log,
    });
    return { server, listeningFields: { model: modelName, modelPath } };
  },
});

import { OnnxConfigError } from "./errors.js";

/** Configuration of the onnx processor, read from `EAS_PROCESSOR_CONFIG` (a JSON object). */
export interface OnnxConfig {
  /**
   * Threads used inside one operator. Default 1: an instance is one replica, and EAS
   * scales by adding replicas, so letting every replica take all cores oversubscribes the node.
   */
  readonly intraOpNumThreads: number;
  /** Threads used across independent operators (default 1). */
  readonly interOpNumThreads: number;
  /** onnxruntime graph optimization level. */
  readonly graphOptimizationLevel: "disabled" | "basic" | "extended" | "all";
  /** Largest accepted request body, in bytes; larger ones get HTTP 413. */
  readonly maxBodyBytes: number;
  /** Class names for classifiers whose model carries no `classes` metadata. */
  readonly classes: readonly string[] | undefined;
}

/** Defaults applied to every key the configuration leaves out. */
export const DEFAULT_ONNX_CONFIG: OnnxConfig = {
  intraOpNumThreads: 1,
  interOpNumThreads: 1,
  graphOptimizationLevel: "all",
  maxBodyBytes: 64 * 1024 * 1024,
  classes: undefined,
};

/** Result of parsing: the configuration, and warnings worth logging (unknown keys). */
export interface ParsedOnnxConfig {
  readonly config: OnnxConfig;
  readonly warnings: readonly string[];
}

function integer(key: string, value: unknown, min: number, max: number): number {
  if (typeof value !== "number" || !Number.isInteger(value) || value < min || value > max) {
    throw new OnnxConfigError(`onnx config '${key}' must be an integer in [${min}, ${max}], got ${JSON.stringify(value)}`, key);
  }
  return value;
}

const LEVELS = ["disabled", "basic", "extended", "all"] as const;

/**
 * Parses the `EAS_PROCESSOR_CONFIG` text. Empty or missing text gives the defaults; unknown
 * keys are warnings, invalid values are {@link OnnxConfigError}s.
 */
export function parseOnnxConfig(text: string | undefined): ParsedOnnxConfig {
  if (text === undefined || text.trim() === "") return { config: DEFAULT_ONNX_CONFIG, warnings: [] };
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (error) {
    throw new OnnxConfigError(`EAS_PROCESSOR_CONFIG is not valid JSON: ${(error as Error).message}`, undefined, {
      cause: error,
    });
  }
  if (raw === null || typeof raw !== "object" || Array.isArray(raw)) {
    throw new OnnxConfigError("EAS_PROCESSOR_CONFIG must be a JSON object");
  }
  const config: { -readonly [K in keyof OnnxConfig]: OnnxConfig[K] } = { ...DEFAULT_ONNX_CONFIG };
  const warnings: string[] = [];
  for (const [key, value] of Object.entries(raw)) {
    switch (key) {
      case "intra_op_num_threads":
        config.intraOpNumThreads = integer(key, value, 0, 1024);
        break;
      case "inter_op_num_threads":
        config.interOpNumThreads = integer(key, value, 0, 1024);
        break;
      case "max_body_bytes":
        config.maxBodyBytes = integer(key, value, 1, 2 ** 31 - 1);
        break;
      case "graph_optimization_level":
        if (!(LEVELS as readonly unknown[]).includes(value)) {
          throw new OnnxConfigError(`onnx config '${key}' must be one of ${LEVELS.join(", ")}, got ${JSON.stringify(value)}`, key);
        }
        config.graphOptimizationLevel = value as OnnxConfig["graphOptimizationLevel"];
        break;
      case "classes":
        if (!Array.isArray(value) || value.length === 0 || !value.every((name) => typeof name === "string")) {
          throw new OnnxConfigError(`onnx config 'classes' must be a non-empty array of strings`, key);
        }
        config.classes = value as string[];
        break;
      default:
        warnings.push(`unknown onnx config key '${key}' ignored`);
    }
  }
  return { config, warnings };
}

/**
 * Configuration of the echo processor, read from `EAS_PROCESSOR_CONFIG` (a JSON object).
 * Keys are snake_case because they travel inside a service spec written by users.
 */
export interface EchoConfig {
  /** Fixed delay before answering, in milliseconds. */
  readonly latencyMs: number;
  /** Extra uniformly random delay in [0, latencyJitterMs), in milliseconds. */
  readonly latencyJitterMs: number;
  /** Pad plain JSON answers to exactly this many bytes (0: no padding). */
  readonly responseBytes: number;
  /** Probability in [0, 1] of answering HTTP 500 instead of echoing. */
  readonly failureRate: number;
  /** Number of events (or chunks) sent by the streaming endpoints. */
  readonly streamChunks: number;
  /** Delay between two streamed events, in milliseconds. */
  readonly chunkIntervalMs: number;
  /** Largest accepted request body, in bytes; larger ones get HTTP 413. */
  readonly maxBodyBytes: number;
  /** Once, this long after listening, the server freezes for {@link stallMs} (0: never). */
  readonly stallAfterMs: number;
  /** How long the one stall lasts: every request arriving during it waits until it ends (a GC pause, a frozen host). */
  readonly stallMs: number;
}

/** Defaults applied to every key the configuration leaves out. */
export const DEFAULT_ECHO_CONFIG: EchoConfig = {
  latencyMs: 0,
  latencyJitterMs: 0,
  responseBytes: 0,
  failureRate: 0,
  streamChunks: 5,
  chunkIntervalMs: 50,
  maxBodyBytes: 10 * 1024 * 1024,
  stallAfterMs: 0,
  stallMs: 0,
};

/** The configuration is not a JSON object, or one of its values is out of range. */
export class EchoConfigError extends Error {
  override readonly name = "EchoConfigError";
  constructor(
    message: string,
    /** The offending key, when one is to blame. */
    readonly key?: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

/** Result of parsing: the configuration, and warnings worth logging (unknown keys). */
export interface ParsedEchoConfig {
  readonly config: EchoConfig;
  readonly warnings: readonly string[];
}

interface KeySpec {
  readonly field: keyof EchoConfig;
  readonly min: number;
  readonly max: number;
  readonly integer: boolean;
}

const KEYS: Readonly<Record<string, KeySpec>> = {
  latency_ms: { field: "latencyMs", min: 0, max: 3_600_000, integer: false },
  latency_jitter_ms: { field: "latencyJitterMs", min: 0, max: 3_600_000, integer: false },
  response_bytes: { field: "responseBytes", min: 0, max: 64 * 1024 * 1024, integer: true },
  failure_rate: { field: "failureRate", min: 0, max: 1, integer: false },
  stream_chunks: { field: "streamChunks", min: 1, max: 100_000, integer: true },
  chunk_interval_ms: { field: "chunkIntervalMs", min: 0, max: 3_600_000, integer: false },
  max_body_bytes: { field: "maxBodyBytes", min: 1, max: 1024 * 1024 * 1024, integer: true },
  stall_after_ms: { field: "stallAfterMs", min: 0, max: 86_400_000, integer: false },
  stall_ms: { field: "stallMs", min: 0, max: 3_600_000, integer: false },
};

/**
 * Parses the `EAS_PROCESSOR_CONFIG` text. Empty or missing text gives the defaults.
 * Unknown keys are reported as warnings rather than errors, so that a spec written for a
 * newer processor still starts; out-of-range values are errors, so a typo in a value
 * never silently benchmarks the wrong thing.
 */
export function parseEchoConfig(text: string | undefined): ParsedEchoConfig {
  if (text === undefined || text.trim() === "") return { config: DEFAULT_ECHO_CONFIG, warnings: [] };
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (error) {
    throw new EchoConfigError(`EAS_PROCESSOR_CONFIG is not valid JSON: ${(error as Error).message}`, undefined, {
      cause: error,
    });
  }
  if (raw === null || typeof raw !== "object" || Array.isArray(raw)) {
    throw new EchoConfigError("EAS_PROCESSOR_CONFIG must be a JSON object");
  }
  const config: Record<keyof EchoConfig, number> = { ...DEFAULT_ECHO_CONFIG };
  const warnings: string[] = [];
  for (const [key, value] of Object.entries(raw)) {
    const spec = KEYS[key];
    if (spec === undefined) {
      warnings.push(`unknown echo config key '${key}' ignored`);
      continue;
    }
    if (typeof value !== "number" || !Number.isFinite(value)) {
      throw new EchoConfigError(`echo config '${key}' must be a number, got ${JSON.stringify(value)}`, key);
    }
    if (value < spec.min || value > spec.max || (spec.integer && !Number.isInteger(value))) {
      const kind = spec.integer ? "an integer" : "a number";
      throw new EchoConfigError(`echo config '${key}' must be ${kind} in [${spec.min}, ${spec.max}], got ${value}`, key);
    }
    config[spec.field] = value;
  }
  return { config, warnings };
}

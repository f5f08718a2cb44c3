import { pino, type DestinationStream, type Level, type Logger as PinoLogger, type LoggerOptions as PinoOptions } from "pino";
import type { EnvironmentVariables } from "./sdk.js";
import { activeTraceIds } from "./trace-context.js";

/** The structured logger every EAS package takes: pino's. Use `logger.child({ component })` for parts of a service. */
export type Logger = PinoLogger;

/** Log levels, lowest to highest. */
export type LogLevel = Level | "silent";

const LEVELS: readonly LogLevel[] = ["trace", "debug", "info", "warn", "error", "fatal", "silent"];

/** Options of {@link createLogger}. */
export interface LoggerOptions {
  /** Service name, written as `service` on every line. */
  name: string;
  /** Minimum level; defaults to `EAS_LOG_LEVEL`, then `info`. */
  level?: LogLevel;
  /** Environment variables to read `EAS_LOG_LEVEL` from; defaults to `process.env`. */
  env?: EnvironmentVariables;
  /** Where lines go; stdout by default. Tests pass a stream to capture them. */
  destination?: DestinationStream;
}

/** Thrown by {@link createLogger} for a level name pino does not know. */
export class InvalidLogLevelError extends Error {
  override readonly name = "InvalidLogLevelError";
  constructor(readonly level: string) {
    super(`unknown log level "${level}"; use one of ${LEVELS.join(", ")}`);
  }
}

/**
 * A pino JSON logger: one line per record with `level` (label), `time` (ISO),
 * `service`, `msg`, and, inside an active span, its `trace_id` and `span_id`
 * so log lines and traces can be joined.
 */
export function createLogger(options: LoggerOptions): Logger {
  const level = parseLevel(options.level ?? (options.env ?? process.env).EAS_LOG_LEVEL ?? "info");
  const pinoOptions: PinoOptions = {
    level,
    base: { service: options.name },
    timestamp: pino.stdTimeFunctions.isoTime,
    formatters: { level: (label) => ({ level: label }) },
    mixin: () => {
      const ids = activeTraceIds();
      return ids ? { trace_id: ids.traceId, span_id: ids.spanId } : {};
    },
  };
  // pino's default destination writes stdout synchronously, so lines logged just before a crash are not lost.
  return options.destination ? pino(pinoOptions, options.destination) : pino(pinoOptions);
}

function parseLevel(value: string): LogLevel {
  const level = value.trim().toLowerCase();
  if (!(LEVELS as readonly string[]).includes(level)) throw new InvalidLogLevelError(value);
  return level as LogLevel;
}

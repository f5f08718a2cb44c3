export { startTelemetry, otlpTracesUrlFrom, TelemetryAlreadyStartedError } from "./sdk.js";
export type { Telemetry, TelemetryOptions, SpanExport, EnvironmentVariables } from "./sdk.js";
export { createLogger, InvalidLogLevelError } from "./logger.js";
export type { Logger, LoggerOptions, LogLevel } from "./logger.js";
export { createShutdown, SHUTDOWN_PHASES, ShutdownTimeoutError, ShutdownHookError } from "./shutdown.js";
export type { Shutdown, ShutdownOptions, ShutdownPhase, ShutdownHook, ShutdownHookFailure, SignalSource } from "./shutdown.js";
export {
  injectTraceContext,
  extractTraceContext,
  withExtractedContext,
  startConsumerSpan,
  withProducerSpan,
  activeTraceIds,
  recordError,
} from "./trace-context.js";
export type { TraceCarrier, TraceCarrierSource, TraceIds, SpanHelperOptions } from "./trace-context.js";
export { INSTRUMENTED_MODULES } from "./instrumented-modules.js";
export type { SpanExporter } from "@opentelemetry/sdk-trace-base";

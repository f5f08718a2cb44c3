/** Modules the ESM loader hook wraps so `startTelemetry()`'s instrumentations can patch them. */
export const INSTRUMENTED_MODULES = ["@grpc/grpc-js", "http", "https", "node:http", "node:https"] as const;

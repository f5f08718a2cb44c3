/**
 * Side-effect module: registers OpenTelemetry's ESM loader hook
 * (import-in-the-middle) so the gRPC and HTTP instrumentations can patch modules
 * that ESM code imports. Without it, `@grpc/grpc-js` loaded from ESM is never
 * patched and gRPC spans are missing.
 *
 * Load it before the service's own code, ideally with `--import`:
 *
 *     node --import @eas/telemetry/register dist/main.js
 *     node --conditions=source --import tsx --import @eas/telemetry/register src/main.ts
 *
 * or as the very first import of `main.ts`, then call `startTelemetry()` before
 * importing (dynamically) the modules that load `@grpc/grpc-js`.
 */
import { register } from "node:module";
import { INSTRUMENTED_MODULES } from "./instrumented-modules.js";

// Only the instrumented modules are wrapped: wrapping every module costs start-up
// time and can break modules that other loaders (tsx) transform.
register("@opentelemetry/instrumentation/hook.mjs", import.meta.url, {
  data: { include: [...INSTRUMENTED_MODULES] },
});

export { jsonLogger, silentLogger } from "./log.js";
export type { Logger, LogLevel } from "./log.js";
export { mulberry32 } from "./prng.js";
export { listenOn, drainHttpServer } from "./http.js";
export type { BoundAddress, DrainOptions } from "./http.js";
export { runProcessor, intFromEnv, EnvIntegerError } from "./run.js";
export type { ProcessorDefinition, ProcessorEnv, ProcessorServer, ProcessorSetup } from "./run.js";

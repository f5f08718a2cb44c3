export { createEchoServer, EchoServerClosedError, STALL_PATH } from "./server.js";
export type { EchoServer, EchoServerOptions } from "./server.js";
export { parseEchoConfig, EchoConfigError, DEFAULT_ECHO_CONFIG } from "./config.js";
export type { EchoConfig, ParsedEchoConfig } from "./config.js";
export { createEchoRenderer, echoJsonOf } from "./response.js";
export type { EchoRenderer, EchoRendererOptions } from "./response.js";
export { jsonLogger, silentLogger } from "@eas/processor-kit";
export type { Logger, LogLevel } from "@eas/processor-kit";

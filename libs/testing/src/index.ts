export { startNatsServer, findNatsServerBinary, freePort } from "@eas/process-kit";
export type { NatsServerHandle, NatsServerOptions } from "@eas/process-kit";
export { waitFor } from "./wait.js";
export { mulberry32 } from "./prng.js";

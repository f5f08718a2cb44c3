export { startNatsServer, findNatsServerBinary, freePort } from "./nats-server.js";
export type { NatsServerHandle, NatsServerOptions } from "./nats-server.js";
export { waitFor } from "./wait.js";
export { mulberry32 } from "./prng.js";

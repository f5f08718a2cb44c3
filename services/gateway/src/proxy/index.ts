export { createGatewayServer, RequestBodyTooLargeError } from "./gateway-server.js";
export type {
  GatewayServer,
  GatewayServerOptions,
  GatewayLogger,
  GatewayMetricsSink,
  ServiceRoutingSnapshot,
  ServiceLoadSnapshot,
} from "./gateway-server.js";
export { StaticRouteTable, UnknownRouteError } from "./route-table.js";
export type { RouteEntry, RouteInstance, RouteState, RouteTable } from "./route-table.js";
export { GatewayErrorCode, gatewayErrorStatus } from "./errors.js";
export type { GatewayErrorBody } from "./errors.js";
export { TokenBucket } from "./token-bucket.js";
export { BoundedQueue } from "./bounded-queue.js";
export type { QueueNode } from "./bounded-queue.js";
export { pickLeastOutstanding } from "./balancer.js";
export type { BalancedInstance } from "./balancer.js";
export { tokenDigest, tokenMatches, presentedToken } from "./auth.js";

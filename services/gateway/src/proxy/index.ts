export { createGatewayServer } from "./gateway-server.js";
export type { GatewayServer } from "./gateway-server.js";
export type { GatewayServerOptions, GatewayLogger } from "./gateway-options.js";
export type { GatewayMetricsSink } from "./observation.js";
export type { MirrorOutcome } from "./mirror.js";
export { VERSION_HEADER } from "./lanes.js";
export type { ServiceLoadSnapshot, ServiceRoutingSnapshot } from "./service-route.js";
export { RequestBodyTooLargeError } from "./exchange.js";
export { LiveRouteTable, UnknownRouteError, unavailableReason } from "./route-table.js";
export type {
  AsyncRoute,
  GroupEntry,
  GroupMember,
  RouteCanary,
  RouteEntry,
  RouteInstance,
  RouteMirror,
  RouteState,
  RouteTable,
} from "./route-table.js";
export { isResultsRead } from "./async-requests.js";
export type { AsyncExchange, AsyncRequests } from "./async-requests.js";
export { GatewayErrorCode, gatewayErrorStatus, sendError, reasonPhrase } from "./errors.js";
export type { GatewayErrorBody } from "./errors.js";
export { TokenBucket } from "./token-bucket.js";
export { BoundedQueue } from "./bounded-queue.js";
export type { QueueNode } from "./bounded-queue.js";
export { pickLeastOutstanding } from "./balancer.js";
export type { BalancedInstance } from "./balancer.js";
export { tokenDigest, tokenMatches, presentedToken } from "./auth.js";

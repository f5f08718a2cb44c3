export { gatewayConfigSpec } from "./config.js";
export { routesProjection } from "./routing/routes-projection.js";
export { routeSyncOnEvent, syncAllRoutes } from "./routing/route-sync.js";
export { createAsyncRequests } from "./async/async-requests.js";
export type { AsyncNats, AsyncRequestsOptions } from "./async/async-requests.js";
export { GatewaySampler } from "./sampling/gateway-sampler.js";
export type { GatewaySamplerOptions, ServiceLoad } from "./sampling/gateway-sampler.js";
export { createGatewayServer, LiveRouteTable, RequestBodyTooLargeError, UnknownRouteError } from "./proxy/index.js";
export type {
  GatewayServer,
  GatewayServerOptions,
  GatewayLogger,
  GatewayMetricsSink,
  ServiceLoadSnapshot,
  RouteEntry,
  RouteInstance,
  RouteState,
  RouteTable,
} from "./proxy/index.js";

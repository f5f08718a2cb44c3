export { gatewayConfigSpec } from "./config.js";
export { routesProjection } from "./routing/routes-projection.js";
export { routeSyncOnEvent, syncAllRoutes } from "./routing/route-sync.js";
export { createAsyncRequests } from "./async/async-requests.js";
export type { AsyncNats, AsyncRequestsOptions } from "./async/async-requests.js";
export { createGatewayServer, LiveRouteTable, RequestBodyTooLargeError, UnknownRouteError } from "./proxy/index.js";
export type {
  GatewayServer,
  GatewayServerOptions,
  GatewayLogger,
  GatewayMetricsSink,
  RouteEntry,
  RouteInstance,
  RouteState,
  RouteTable,
} from "./proxy/index.js";

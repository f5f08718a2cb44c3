import type { AsyncRequests } from "./async-requests.js";
import type { ColdStartOptions } from "./cold-start.js";
import type { GatewayMetricsSink } from "./observation.js";
import type { RouteTable } from "./route-table.js";

/** The logger the gateway takes; pino's `Logger` fits. */
export interface GatewayLogger {
  debug(fields: object, message?: string): void;
  info(fields: object, message?: string): void;
  warn(fields: object, message?: string): void;
  error(fields: object, message?: string): void;
}

/** Options of `createGatewayServer`. */
export interface GatewayServerOptions {
  routes: RouteTable;
  logger?: GatewayLogger;
  /** Largest request body accepted, in bytes; default 10 MiB. Larger ones get 413. */
  maxBodyBytes?: number;
  /** Clock in ms (monotonic is best), for latency, rate limits and ejection; default `performance.now`. */
  now?: () => number;
  metrics?: GatewayMetricsSink;
  /** How long an instance whose connection failed is skipped, in ms; default 2000. */
  ejectMs?: number;
  /** `Retry-After` seconds sent with 503 when a service has no Ready instance; default 1. */
  unavailableRetryAfterSeconds?: number;
  /** Longest wait in `GatewayServer.close` for in-flight requests before cutting them; default 30 s. */
  drainTimeoutMs?: number;
  /** Queues requests to async services and serves their results; without it they are answered 503. */
  asyncRequests?: AsyncRequests;
  /** Holding requests for services at zero instances that scale up on demand (`cold-start.ts`). */
  coldStart?: ColdStartOptions;
}

/** {@link GatewayServerOptions} with every default filled in, as the gateway's parts read them. */
export interface GatewaySettings {
  readonly routes: RouteTable;
  readonly logger: GatewayLogger;
  readonly maxBodyBytes: number;
  readonly now: () => number;
  readonly metrics: GatewayMetricsSink | undefined;
  readonly ejectMs: number;
  /** The `Retry-After` value sent with a 503 for a service without a Ready instance. */
  readonly retryAfter: string;
  readonly drainTimeoutMs: number;
  readonly asyncRequests: AsyncRequests | undefined;
  readonly coldStart: ColdStartOptions;
}

const DEFAULT_MAX_BODY_BYTES = 10 * 1024 * 1024;
const NO_LOGGER: GatewayLogger = { debug() {}, info() {}, warn() {}, error() {} };

/** Fills the defaults of `options`, in one place. */
export function withDefaults(options: GatewayServerOptions): GatewaySettings {
  return {
    routes: options.routes,
    logger: options.logger ?? NO_LOGGER,
    maxBodyBytes: options.maxBodyBytes ?? DEFAULT_MAX_BODY_BYTES,
    now: options.now ?? (() => performance.now()),
    metrics: options.metrics,
    ejectMs: options.ejectMs ?? 2000,
    retryAfter: String(options.unavailableRetryAfterSeconds ?? 1),
    drainTimeoutMs: options.drainTimeoutMs ?? 30_000,
    asyncRequests: options.asyncRequests,
    coldStart: options.coldStart ?? {},
  };
}

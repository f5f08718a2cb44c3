/**
 * Hook for request metrics (the gateway process attaches prom-client and the monitor's sampler). Called once
 * per answered request of a known service; `instanceId` is empty when the gateway answered without an
 * instance (401, 413, 429, 450, 503), the bytes are the request's and the response's bodies.
 */
export interface GatewayMetricsSink {
  observe(service: string, statusCode: number, latencyMs: number, instanceId?: string, bytesIn?: number, bytesOut?: number): void;
}

/**
 * Per-request observation: every answered request of a known service passes here exactly once,
 * whoever answered it (the instance, or the gateway: a rejection at admission, a timeout, a failed
 * instance). Per-request hooks (metrics today; sampling for the monitor, per-version figures for
 * canary analysis, which the callers can pass the instance for) belong here and nowhere else.
 * Unknown services and paths outside `/api/predict/` are not observed: their names are unbounded.
 */
export class RequestObservation {
  readonly #metrics: GatewayMetricsSink | undefined;
  readonly #now: () => number;

  constructor(metrics: GatewayMetricsSink | undefined, now: () => number) {
    this.#metrics = metrics;
    this.#now = now;
  }

  /** A request to `service` that arrived at `start` (the gateway's clock) was answered with `status`, by `instanceId` if one answered. */
  answered(service: string, status: number, start: number, instanceId = "", bytesIn = 0, bytesOut = 0): void {
    if (this.#metrics) this.#metrics.observe(service, status, this.#now() - start, instanceId, bytesIn, bytesOut);
  }
}

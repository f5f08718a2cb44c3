import { Counter, Gauge, type Registry } from "prom-client";
import type { PointStats, SeriesPoint } from "@eas/proto";
import { summarizeLatency } from "@eas/metrics";

const QUANTILES = [0.5, 0.9, 0.95, 0.99] as const;

/**
 * The per-service aggregates on the monitor's /metrics, with the labels a Prometheus user expects:
 * `service`, `version` (absent on service-wide series; "none" for requests the gateway answered itself)
 * and `code`. Counters grow by each closed second; gauges show the last closed second.
 */
export function createPrometheusExporter(registry: Registry, instancesReady: (service: string) => number) {
  const responses = new Counter({
    name: "eas_service_responses_total",
    help: "Responses of each service through the gateways, by version and HTTP status code",
    labelNames: ["service", "version", "code"],
    registers: [registry],
  });
  const received = new Counter({
    name: "eas_service_received_bytes_total",
    help: "Request body bytes received for each service",
    labelNames: ["service"],
    registers: [registry],
  });
  const sent = new Counter({
    name: "eas_service_sent_bytes_total",
    help: "Response body bytes sent for each service",
    labelNames: ["service"],
    registers: [registry],
  });
  const latency = new ResponseTimeSummary();
  registry.registerMetric(latency as unknown as Parameters<Registry["registerMetric"]>[0]);
  const inFlight = new Gauge({
    name: "eas_service_in_flight_requests",
    help: "Requests being served by each service's instances, summed over gateways",
    labelNames: ["service"],
    registers: [registry],
  });
  const queued = new Gauge({
    name: "eas_service_queued_requests",
    help: "Requests waiting in the gateways' queues for each service",
    labelNames: ["service"],
    registers: [registry],
  });
  const ready = new Gauge({
    name: "eas_service_instances_ready",
    help: "Ready instances of each service, from the event log",
    labelNames: ["service"],
    registers: [registry],
  });
  const cpu = new Gauge({
    name: "eas_service_cpu_cores",
    help: "CPU used by each service's instances, in cores",
    labelNames: ["service"],
    registers: [registry],
  });
  const memory = new Gauge({
    name: "eas_service_memory_bytes",
    help: "Resident memory of each service's instances",
    labelNames: ["service"],
    registers: [registry],
  });

  const setLatency = (labels: { service: string; version?: string }, stats: PointStats | undefined) => {
    const traffic = stats?.traffic;
    if (traffic && traffic.requests > 0) latency.observe(labels, traffic.latencyHistogramUs, traffic.requests);
  };

  let reportedBefore = new Set<string>();
  return (_secondMs: number, points: readonly SeriesPoint[]): void => {
    const reported = new Set(points.map((point) => point.service));
    // A service that went quiet has nothing in flight any more (gateways send nothing for idle services).
    for (const service of reportedBefore) {
      if (reported.has(service)) continue;
      inFlight.set({ service }, 0);
      queued.set({ service }, 0);
    }
    reportedBefore = reported;
    for (const point of points) {
      const { service } = point;
      const total = point.total;
      const unattributed = { ...(total?.traffic?.responsesByCode ?? {}) };
      for (const [version, stats] of Object.entries(point.versions)) {
        for (const [code, count] of Object.entries(stats.traffic?.responsesByCode ?? {})) {
          responses.inc({ service, version, code }, count);
          unattributed[Number(code)] = (unattributed[Number(code)] ?? 0) - count;
        }
        setLatency({ service, version }, stats);
      }
      for (const [code, count] of Object.entries(unattributed)) if (count > 0) responses.inc({ service, version: "none", code }, count);
      received.inc({ service }, total?.traffic?.bytesIn ?? 0);
      sent.inc({ service }, total?.traffic?.bytesOut ?? 0);
      setLatency({ service }, total);
      inFlight.set({ service }, total?.inFlightSum ?? 0);
      queued.set({ service }, total?.queuedSum ?? 0);
      ready.set({ service }, instancesReady(service));
      if (total && total.resourceSeconds > 0) {
        cpu.set({ service }, total.cpuPercentSum / total.resourceSeconds / 100);
        memory.set({ service }, total.memoryBytesSum / total.resourceSeconds);
      }
    }
  };
}

type SummaryLabels = { service: string; version?: string };

/**
 * A Prometheus summary built from the monitor's merged histograms (prom-client's Summary can only observe
 * single values): quantiles of the last second with traffic, computed when scraped (not every second for
 * every service), and `_count` over the monitor's life. No `_sum`: the monitor's histograms give the mean
 * of a range (rt_mean in the API), not a running sum.
 */
class ResponseTimeSummary {
  readonly name = "eas_service_response_time_seconds";
  readonly help =
    "Response time of each service (and version) through the gateways: quantiles of the last second with traffic, from merged HDR histograms";
  readonly type = "summary";
  readonly aggregator = "sum";
  readonly #series = new Map<string, { labels: SummaryLabels; histogram: Uint8Array; count: number }>();

  observe(labels: SummaryLabels, histogram: Uint8Array, requests: number): void {
    const key = `${labels.service}\u0000${labels.version ?? ""}`;
    const series = this.#series.get(key) ?? { labels, histogram, count: 0 };
    series.histogram = histogram;
    series.count += requests;
    this.#series.set(key, series);
  }

  get() {
    const values: { labels: Record<string, string>; value: number; metricName?: string }[] = [];
    for (const { labels, histogram, count } of this.#series.values()) {
      const base = { service: labels.service, ...(labels.version ? { version: labels.version } : {}) };
      const summary = summarizeLatency(
        histogram,
        QUANTILES.map((q) => q * 100),
      );
      if (summary) {
        QUANTILES.forEach((quantile, index) =>
          values.push({ labels: { ...base, quantile: String(quantile) }, value: summary.percentiles[index]! / 1000 }),
        );
        values.push({ labels: { ...base, quantile: "1" }, value: summary.max / 1000 });
      }
      values.push({ metricName: `${this.name}_count`, labels: base, value: count });
    }
    return { name: this.name, help: this.help, type: this.type, aggregator: this.aggregator, values };
  }

  reset(): void {
    this.#series.clear();
  }
}

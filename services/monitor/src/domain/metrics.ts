import { summarizeLatency, type LatencySummaryMs } from "@eas/metrics";
import type { PointStats } from "@eas/proto";
import { emptyStats } from "./point-stats.js";

/** How a metric is read from merged statistics; decides what an empty step shows. */
export type MetricKind =
  /** A count per second: 0 when nothing happened. */
  | "rate"
  /** A share of requests: no value without requests. */
  | "ratio"
  /** Latency in ms from the merged histogram: no value without requests. */
  | "latency"
  /** A level averaged over the step (in flight, queued, ready instances): 0 when nothing was reported. */
  | "level"
  /** Resource use averaged over the seconds that had a sample: no value without samples. */
  | "resource";

export interface MetricDefinition {
  readonly name: string;
  readonly unit: string;
  readonly description: string;
  readonly kind: MetricKind;
  /** Whether the metric has a value per version and per instance (false: service only). */
  readonly breakdown: boolean;
  /** Reads the metric from statistics covering `seconds` seconds; undefined when it has no value there. */
  value(stats: PointStats, seconds: number, latency: () => LatencySummaryMs | undefined): number | undefined;
}

const PERCENTILES = [50, 80, 90, 95, 99] as const;

function responses(stats: PointStats, match: (code: number) => boolean): number {
  let count = 0;
  for (const [code, n] of Object.entries(stats.traffic?.responsesByCode ?? {})) if (match(Number(code))) count += n;
  return count;
}

function requestsOf(stats: PointStats): number {
  return stats.traffic?.requests ?? 0;
}

function rate(name: string, description: string, match: (code: number) => boolean): MetricDefinition {
  return { name, unit: "req/s", description, kind: "rate", breakdown: true, value: (s, seconds) => responses(s, match) / seconds };
}

function ratio(name: string, description: string, match: (code: number) => boolean): MetricDefinition {
  return {
    name,
    unit: "ratio",
    description,
    kind: "ratio",
    breakdown: true,
    value: (s) => (requestsOf(s) === 0 ? undefined : responses(s, match) / requestsOf(s)),
  };
}

function percentile(p: (typeof PERCENTILES)[number]): MetricDefinition {
  const index = PERCENTILES.indexOf(p);
  return {
    name: `p${p}`,
    unit: "ms",
    description: `response time under which ${p}% of requests ended, from the merged latency histogram`,
    kind: "latency",
    breakdown: true,
    value: (_s, _seconds, latency) => latency()?.percentiles[index],
  };
}

const inClass = (hundreds: number) => (code: number) => Math.floor(code / 100) === hundreds;
const exactly = (wanted: number) => (code: number) => code === wanted;

/**
 * The metric catalogue: what QuerySeries, WatchLatest, alert rules and `eas metrics` accept. Names are a
 * contract with clients (docs/monitoring.md); add, never rename.
 */
export const METRICS: readonly MetricDefinition[] = [
  {
    name: "qps",
    unit: "req/s",
    description: "requests answered per second, whatever their code",
    kind: "rate",
    breakdown: true,
    value: (s, seconds) => requestsOf(s) / seconds,
  },
  rate("qps_2xx", "2xx responses per second", inClass(2)),
  rate("qps_3xx", "3xx responses per second", inClass(3)),
  rate("qps_4xx", "4xx responses per second (429, 450 and 499 included)", inClass(4)),
  rate("qps_5xx", "5xx responses per second (503 and 504 included)", inClass(5)),
  rate("qps_429", "requests refused by the service's rate limit, per second", exactly(429)),
  rate("qps_450", "requests refused because the service's queue was full, per second", exactly(450)),
  rate("qps_499", "requests whose client went away before the answer, per second", exactly(499)),
  rate("qps_503", "503 responses per second (no ready instance, or the instance's own 503)", exactly(503)),
  rate("qps_504", "requests that timed out, per second", exactly(504)),
  ratio("error_ratio", "share of responses that were 5xx (0.01 is 1%)", inClass(5)),
  ratio("ratio_4xx", "share of responses that were 4xx", inClass(4)),
  ...PERCENTILES.map(percentile),
  {
    name: "rt_max",
    unit: "ms",
    description: "slowest response time",
    kind: "latency",
    breakdown: true,
    value: (_s, _seconds, latency) => latency()?.max,
  },
  {
    name: "rt_mean",
    unit: "ms",
    description: "mean response time",
    kind: "latency",
    breakdown: true,
    value: (_s, _seconds, latency) => latency()?.mean,
  },
  {
    name: "in_flight",
    unit: "requests",
    description: "requests being served by instances, summed over gateways, averaged over the step",
    kind: "level",
    breakdown: true,
    value: (s, seconds) => s.inFlightSum / seconds,
  },
  {
    name: "queued",
    unit: "requests",
    description: "requests waiting in the gateways' queues for a free instance, averaged over the step",
    kind: "level",
    breakdown: false,
    value: (s, seconds) => s.queuedSum / seconds,
  },
  {
    name: "bytes_in",
    unit: "bytes/s",
    description: "request body bytes received per second",
    kind: "rate",
    breakdown: true,
    value: (s, seconds) => (s.traffic?.bytesIn ?? 0) / seconds,
  },
  {
    name: "bytes_out",
    unit: "bytes/s",
    description: "response body bytes sent per second",
    kind: "rate",
    breakdown: true,
    value: (s, seconds) => (s.traffic?.bytesOut ?? 0) / seconds,
  },
  {
    name: "cpu",
    unit: "percent",
    description: "CPU of the instances' processes in percent of one core (summed over instances for a service or version)",
    kind: "resource",
    breakdown: true,
    value: (s) => (s.resourceSeconds === 0 ? undefined : s.cpuPercentSum / s.resourceSeconds),
  },
  {
    name: "memory",
    unit: "bytes",
    description: "resident memory of the instances' processes (summed over instances for a service or version)",
    kind: "resource",
    breakdown: true,
    value: (s) => (s.resourceSeconds === 0 ? undefined : s.memoryBytesSum / s.resourceSeconds),
  },
  {
    name: "instances_ready",
    unit: "instances",
    description: "instances the event log shows Ready, averaged over the step",
    kind: "level",
    breakdown: false,
    value: (s, seconds) => s.instancesReadySum / seconds,
  },
];

const BY_NAME = new Map(METRICS.map((metric) => [metric.name, metric]));

export function findMetric(name: string): MetricDefinition | undefined {
  return BY_NAME.get(name);
}

/**
 * Reads `metrics` from statistics covering `seconds` seconds, decoding the latency histogram once at most.
 * A metric without a value there (a latency without requests) is undefined.
 */
export function readMetrics(stats: PointStats | undefined, seconds: number, metrics: readonly MetricDefinition[]): (number | undefined)[] {
  const source = stats ?? emptyStats();
  let summary: LatencySummaryMs | undefined | null = null;
  const latency = () => {
    if (summary === null) summary = summarizeLatency(source.traffic?.latencyHistogramUs ?? new Uint8Array(0), PERCENTILES);
    return summary;
  };
  return metrics.map((metric) => metric.value(source, seconds, latency));
}

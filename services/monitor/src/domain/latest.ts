import type { BreakdownValues, LatestPoint, PointStats, SeriesPoint } from "@eas/proto";
import { METRICS, readMetrics, type MetricDefinition } from "./metrics.js";

const BREAKDOWN_METRICS = METRICS.filter((metric) => metric.breakdown);

function valuesOf(stats: PointStats | undefined, metrics: readonly MetricDefinition[]): Record<string, number> {
  const values: Record<string, number> = {};
  readMetrics(stats, 1, metrics).forEach((value, index) => {
    if (value !== undefined) values[metrics[index]!.name] = value;
  });
  return values;
}

/**
 * One closed second of a service as the live stream shows it: every metric of the catalogue for the
 * service, and the per-version and per-instance ones. A service that did not report in that second
 * (`point` undefined) shows zero traffic and its ready instances.
 */
export function toLatestPoint(service: string, secondMs: number, point: SeriesPoint | undefined, instancesReady: number): LatestPoint {
  const values = valuesOf(point?.total, METRICS);
  values["instances_ready"] = instancesReady;
  const versions: BreakdownValues[] = Object.entries(point?.versions ?? {})
    .map(([version, stats]) => ({ version: Number(version), instanceId: "", values: valuesOf(stats, BREAKDOWN_METRICS) }))
    .sort((a, b) => a.version - b.version);
  const instances: BreakdownValues[] = Object.entries(point?.instances ?? {})
    .map(([instanceId, stats]) => ({ version: stats.version, instanceId, values: valuesOf(stats, BREAKDOWN_METRICS) }))
    .sort((a, b) => a.instanceId.localeCompare(b.instanceId));
  return { service, timeMs: secondMs, values, versions, instances };
}

import { mergeEncodedLatencies } from "@eas/metrics";
import type { PointStats, SeriesPoint, TrafficStats } from "@eas/proto";

/** Traffic of no request. */
export function emptyTraffic(): TrafficStats {
  return { requests: 0, responsesByCode: {}, bytesIn: 0, bytesOut: 0, latencyHistogramUs: Buffer.alloc(0) };
}

export function emptyStats(): PointStats {
  return {
    traffic: emptyTraffic(),
    inFlightSum: 0,
    queuedSum: 0,
    cpuPercentSum: 0,
    memoryBytesSum: 0,
    resourceSeconds: 0,
    instancesReadySum: 0,
    version: 0,
  };
}

/** Sums counts and merges latency histograms (percentiles of the result are those of all requests, never an average). */
export function mergeTraffic(parts: readonly TrafficStats[]): TrafficStats {
  if (parts.length === 1) return parts[0]!;
  const merged = emptyTraffic();
  const codes: Record<number, number> = {};
  for (const part of parts) {
    merged.requests += part.requests;
    merged.bytesIn += part.bytesIn;
    merged.bytesOut += part.bytesOut;
    for (const [code, count] of Object.entries(part.responsesByCode)) codes[Number(code)] = (codes[Number(code)] ?? 0) + count;
  }
  merged.responsesByCode = codes;
  merged.latencyHistogramUs = mergeEncodedLatencies(parts.map((part) => part.latencyHistogramUs));
  return merged;
}

/** Adds statistics of adjacent or parallel measurements: every field is a sum, histograms merge. */
export function mergeStats(parts: readonly PointStats[]): PointStats {
  if (parts.length === 0) return emptyStats();
  if (parts.length === 1) return parts[0]!;
  const merged = emptyStats();
  merged.traffic = mergeTraffic(parts.map((part) => part.traffic ?? emptyTraffic()));
  for (const part of parts) {
    merged.inFlightSum += part.inFlightSum;
    merged.queuedSum += part.queuedSum;
    merged.cpuPercentSum += part.cpuPercentSum;
    merged.memoryBytesSum += part.memoryBytesSum;
    merged.resourceSeconds += part.resourceSeconds;
    merged.instancesReadySum += part.instancesReadySum;
    if (part.version) merged.version = part.version;
  }
  return merged;
}

/** Groups values by key, keeping insertion order. */
function groupBy<K, V>(entries: Iterable<[K, V]>): Map<K, V[]> {
  const groups = new Map<K, V[]>();
  for (const [key, value] of entries) {
    const group = groups.get(key);
    if (group) group.push(value);
    else groups.set(key, [value]);
  }
  return groups;
}

/** Points of one service over consecutive intervals merged into one point covering [startMs, startMs + durationMs). */
export function mergePointsOverTime(service: string, startMs: number, durationMs: number, points: readonly SeriesPoint[]): SeriesPoint {
  const versions = groupBy(points.flatMap((p) => Object.entries(p.versions).map(([k, v]) => [Number(k), v] as [number, PointStats])));
  const instances = groupBy(points.flatMap((p) => Object.entries(p.instances)));
  return {
    service,
    startMs,
    durationMs,
    total: mergeStats(points.map((p) => p.total ?? emptyStats())),
    versions: Object.fromEntries([...versions].map(([version, parts]) => [version, mergeStats(parts)])),
    instances: Object.fromEntries([...instances].map(([id, parts]) => [id, mergeStats(parts)])),
  };
}

import type { GatewaySample, InstanceSample, PointStats, SeriesPoint, TrafficStats } from "@eas/proto";
import { emptyStats, emptyTraffic, mergeTraffic } from "./point-stats.js";

/** What the log says about a service when its second closes. */
export interface FleetFacts {
  /** Ready instances of `service` now. */
  instancesReady(service: string): number;
}

/** Where a sample went: into an open second, or nowhere because its second is closed or too far ahead. */
export type Admission = "accepted" | "late" | "future";

interface OpenService {
  /** Gateway samples by source: a source that sends twice for one second is counted once (the last). */
  gateways: Map<string, GatewaySample>;
  /** Resource samples by instance: the last one of the second wins. */
  instances: Map<string, InstanceSample>;
}

export interface SecondAggregatorOptions {
  /** How far ahead of the last closed second a sample may be (clock skew between machines); default 10 s. */
  maxAheadMs?: number;
}

/**
 * Gathers the samples of each second from every gateway and agent, and merges them into one
 * {@link SeriesPoint} per service when the second closes. Pure: time only comes in as sample
 * timestamps and the second being closed.
 */
export class SecondAggregator {
  readonly #open = new Map<number, Map<string, OpenService>>();
  #closedThroughMs: number;
  readonly #maxAheadMs: number;

  /** @param closedThroughMs end of the last second already closed (samples before it are late). */
  constructor(closedThroughMs: number, options: SecondAggregatorOptions = {}) {
    this.#closedThroughMs = closedThroughMs;
    this.#maxAheadMs = options.maxAheadMs ?? 10_000;
  }

  get closedThroughMs(): number {
    return this.#closedThroughMs;
  }

  addGateway(sample: GatewaySample): Admission {
    const open = this.#serviceAt(secondOf(sample.startMs), sample.service);
    if (typeof open === "string") return open;
    open.gateways.set(sample.source, sample);
    return "accepted";
  }

  addInstance(sample: InstanceSample): Admission {
    const open = this.#serviceAt(secondOf(sample.atMs), sample.service);
    if (typeof open === "string") return open;
    open.instances.set(sample.instanceId, sample);
    return "accepted";
  }

  /** Closes the second starting at `startMs` (and any earlier one still open) and returns one point per service that reported in it. */
  close(startMs: number, fleet: FleetFacts): SeriesPoint[] {
    const points: SeriesPoint[] = [];
    for (const second of [...this.#open.keys()].sort((a, b) => a - b)) {
      if (second > startMs) break;
      const services = this.#open.get(second)!;
      this.#open.delete(second);
      // Earlier seconds left open (a stalled loop) are dropped rather than filed under the wrong second.
      if (second !== startMs) continue;
      for (const [service, open] of services) points.push(toPoint(service, second, open, fleet.instancesReady(service)));
    }
    this.#closedThroughMs = Math.max(this.#closedThroughMs, startMs + 1000);
    return points;
  }

  #serviceAt(second: number, service: string): OpenService | Exclude<Admission, "accepted"> {
    if (second < this.#closedThroughMs) return "late";
    if (second >= this.#closedThroughMs + this.#maxAheadMs) return "future";
    let services = this.#open.get(second);
    if (!services) this.#open.set(second, (services = new Map()));
    let open = services.get(service);
    if (!open) services.set(service, (open = { gateways: new Map(), instances: new Map() }));
    return open;
  }
}

function secondOf(ms: number): number {
  return Math.floor(ms / 1000) * 1000;
}

function withTraffic(traffic: TrafficStats): PointStats {
  return { ...emptyStats(), traffic };
}

function toPoint(service: string, startMs: number, open: OpenService, instancesReady: number): SeriesPoint {
  const gateways = [...open.gateways.values()];
  const total: PointStats = withTraffic(
    gateways.length === 0 ? emptyTraffic() : mergeTraffic(gateways.map((g) => g.total ?? emptyTraffic())),
  );
  total.inFlightSum = sum(gateways, (g) => g.inFlight);
  total.queuedSum = sum(gateways, (g) => g.queued);
  total.instancesReadySum = instancesReady;

  const versionTraffic = new Map<number, TrafficStats[]>();
  for (const gateway of gateways) {
    for (const [version, traffic] of Object.entries(gateway.versions)) push(versionTraffic, Number(version), traffic);
  }
  const instanceTraffic = new Map<string, { version: number; traffic: TrafficStats[]; inFlight: number }>();
  for (const gateway of gateways) {
    for (const [id, served] of Object.entries(gateway.instances)) {
      const entry = instanceTraffic.get(id) ?? { version: served.version, traffic: [], inFlight: 0 };
      if (served.traffic) entry.traffic.push(served.traffic);
      entry.inFlight += served.inFlight;
      instanceTraffic.set(id, entry);
    }
  }

  const instances: Record<string, PointStats> = {};
  for (const [id, served] of instanceTraffic) {
    instances[id] = {
      ...withTraffic(served.traffic.length === 0 ? emptyTraffic() : mergeTraffic(served.traffic)),
      inFlightSum: served.inFlight,
      version: served.version,
    };
  }
  for (const [id, resources] of open.instances) {
    const stats = instances[id] ?? { ...emptyStats(), version: resources.version };
    stats.cpuPercentSum = resources.cpuPercent;
    stats.memoryBytesSum = resources.memoryBytes;
    stats.resourceSeconds = 1;
    if (!stats.version) stats.version = resources.version;
    instances[id] = stats;
  }

  const versions: Record<number, PointStats> = {};
  for (const [version, traffic] of versionTraffic) versions[version] = withTraffic(mergeTraffic(traffic));
  for (const stats of Object.values(instances)) {
    if (!stats.version) continue;
    const forVersion = (versions[stats.version] ??= emptyStats());
    forVersion.inFlightSum += stats.inFlightSum;
    if (stats.resourceSeconds > 0) {
      forVersion.cpuPercentSum += stats.cpuPercentSum;
      forVersion.memoryBytesSum += stats.memoryBytesSum;
      forVersion.resourceSeconds = 1;
    }
  }
  const resourced = Object.values(instances).filter((stats) => stats.resourceSeconds > 0);
  if (resourced.length > 0) {
    total.cpuPercentSum = sum(resourced, (s) => s.cpuPercentSum);
    total.memoryBytesSum = sum(resourced, (s) => s.memoryBytesSum);
    total.resourceSeconds = 1;
  }
  return { service, startMs, durationMs: 1000, total, versions, instances };
}

function sum<T>(items: readonly T[], of: (item: T) => number): number {
  let total = 0;
  for (const item of items) total += of(item);
  return total;
}

function push<K, V>(map: Map<K, V[]>, key: K, value: V): void {
  const list = map.get(key);
  if (list) list.push(value);
  else map.set(key, [value]);
}

import { createLatencyHistogram, encodeLatencyHistogram, recordLatencyUs } from "@eas/metrics";
import type { GatewaySample, InstanceSample, TrafficStats } from "@eas/proto";

/** Traffic of `latenciesMs` answered with `code` (one request per latency). */
export function traffic(latenciesMs: readonly number[], code = 200, bytes = { in: 0, out: 0 }): TrafficStats {
  const histogram = createLatencyHistogram();
  for (const ms of latenciesMs) recordLatencyUs(histogram, ms * 1000);
  return {
    requests: latenciesMs.length,
    responsesByCode: latenciesMs.length > 0 ? { [code]: latenciesMs.length } : {},
    bytesIn: bytes.in,
    bytesOut: bytes.out,
    latencyHistogramUs: encodeLatencyHistogram(histogram),
  };
}

export function gatewaySample(overrides: Partial<GatewaySample> & Pick<GatewaySample, "service" | "startMs">): GatewaySample {
  return { source: "gw-1", durationMs: 1000, total: traffic([]), versions: {}, instances: {}, inFlight: 0, queued: 0, ...overrides };
}

export function instanceSample(
  overrides: Partial<InstanceSample> & Pick<InstanceSample, "service" | "instanceId" | "atMs">,
): InstanceSample {
  return { version: 1, nodeId: "node-1", cpuPercent: 0, memoryBytes: 0, ...overrides };
}

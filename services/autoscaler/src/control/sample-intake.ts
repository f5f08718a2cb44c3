import type { Bus, BusSubscription } from "@eas/bus";
import { wakeSubject } from "@eas/contracts";
import { gatewaySamples, instanceSamples, summarizeLatency } from "@eas/metrics";
import type { GatewaySample } from "@eas/proto";
import type { Scaler } from "./scaler.js";

/** Answers the gateway gives itself that more instances would not change: bad token, body too large, rate limited. */
const NOT_DEMAND = [401, 413, 429] as const;

/** A gateway's second of a service as the scaler reads it: the requests instances could serve, and the concurrency. */
export function demandOf(sample: GatewaySample): { requests: number; pending: number; concurrency: number } {
  const total = sample.total;
  const pending = sample.inFlight + sample.queued;
  if (!total) return { requests: 0, pending, concurrency: pending };
  let requests = total.requests;
  for (const code of NOT_DEMAND) requests -= total.responsesByCode[code] ?? 0;
  // The end-of-second snapshot misses what came and went within the second; Little's law (requests x mean
  // latency) misses what has not ended yet. The larger of the two is the better estimate of both.
  const mean = total.latencyHistogramUs.length > 0 ? (summarizeLatency(total.latencyHistogramUs, [])?.mean ?? 0) : 0;
  const littlesLaw = (total.requests * mean) / Math.max(sample.durationMs, 1);
  return { requests: Math.max(0, requests), pending, concurrency: Math.max(pending, littlesLaw) };
}

/**
 * The autoscaler's inputs, straight from the data plane (ADR 0033): every gateway's per-second sample, every
 * instance's CPU sample, and the gateways' wake messages for services at zero. Plain NATS subscriptions,
 * no monitor in between: a load step reaches the decision as soon as the second it happened in closes.
 */
export function subscribeToLoad(
  bus: Bus,
  scaler: Scaler,
  isReadyInstance: (service: string, instanceId: string) => boolean,
): BusSubscription[] {
  return [
    bus.subscribe(gatewaySamples, (sample) => {
      const demand = demandOf(sample);
      scaler.traffic(sample.service, sample.startMs, demand);
    }),
    bus.subscribe(instanceSamples, (sample) => {
      if (isReadyInstance(sample.service, sample.instanceId)) scaler.cpu(sample.service, sample.atMs, sample.cpuPercent);
    }),
    bus.subscribe(wakeSubject, (message) => scaler.wake(message.service)),
  ];
}

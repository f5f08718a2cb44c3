import type { Bus, BusSubscription } from "@eas/bus";
import { gatewaySamples, instanceSamples } from "@eas/metrics";
import type { Admission, SecondAggregator } from "../domain/second-aggregator.js";

export type SampleKind = "gateway" | "instance";
export type SampleOutcome = Admission | "invalid";

/**
 * Subscribes to the samples of every gateway and agent and hands them to the aggregator. A sample whose
 * service (or instance) differs from its subject's is counted invalid and dropped; one that does not
 * decode is logged and dropped by the bus.
 */
export function subscribeToSamples(
  bus: Bus,
  aggregator: SecondAggregator,
  onSample: (kind: SampleKind, outcome: SampleOutcome) => void,
): { close(): void } {
  const subscriptions: BusSubscription[] = [
    bus.subscribe(gatewaySamples, (sample, { tokens: [service] }) => {
      onSample("gateway", sample.service === service ? aggregator.addGateway(sample) : "invalid");
    }),
    bus.subscribe(instanceSamples, (sample, { tokens: [service, instanceId] }) => {
      const matches = sample.service === service && sample.instanceId === instanceId;
      onSample("instance", matches ? aggregator.addInstance(sample) : "invalid");
    }),
  ];
  return {
    close() {
      for (const subscription of subscriptions) subscription.unsubscribe();
    },
  };
}

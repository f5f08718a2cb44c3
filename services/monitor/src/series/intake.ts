import type { NatsConnection, Subscription } from "@nats-io/transport-node";
import { decodeGatewaySample, decodeInstanceSample, MetricsSubjects } from "@eas/metrics";
import type { Admission, SecondAggregator } from "../domain/second-aggregator.js";

export type SampleKind = "gateway" | "instance";
export type SampleOutcome = Admission | "invalid";

/**
 * Subscribes to the samples of every gateway and agent and hands them to the aggregator. A payload that
 * does not decode, or whose service differs from its subject's, is counted and dropped.
 */
export function subscribeToSamples(
  nc: NatsConnection,
  aggregator: SecondAggregator,
  onSample: (kind: SampleKind, outcome: SampleOutcome) => void,
): { close(): void } {
  const subscriptions: Subscription[] = [
    nc.subscribe(MetricsSubjects.gateway, {
      callback: (error, message) => {
        if (error) return;
        try {
          const sample = decodeGatewaySample(message.data);
          const service = message.subject.split(".")[3];
          onSample("gateway", sample.service === service ? aggregator.addGateway(sample) : "invalid");
        } catch {
          onSample("gateway", "invalid");
        }
      },
    }),
    nc.subscribe(MetricsSubjects.instance, {
      callback: (error, message) => {
        if (error) return;
        try {
          const sample = decodeInstanceSample(message.data);
          const [, , , service, instanceId] = message.subject.split(".");
          const matches = sample.service === service && sample.instanceId === instanceId;
          onSample("instance", matches ? aggregator.addInstance(sample) : "invalid");
        } catch {
          onSample("instance", "invalid");
        }
      },
    }),
  ];
  return {
    close() {
      for (const subscription of subscriptions) subscription.unsubscribe();
    },
  };
}

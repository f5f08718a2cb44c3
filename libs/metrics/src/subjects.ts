import { defineEncodedSubject, type Subject } from "@eas/bus";
import { GatewaySample, InstanceSample, QueueSample } from "@eas/proto";

/**
 * Plain NATS subjects of the per-second samples (not the event log). Payloads are protobuf binary
 * messages of proto/eas/v1/metrics.proto, so any NATS client with the .proto files decodes them.
 */
export const MetricsSubjects = {
  /** `eas.metrics.gateway.<service>`: GatewaySample, one per gateway process, second and active service. */
  gateway: "eas.metrics.gateway.*",
  /** `eas.metrics.instance.<service>.<instance_id>`: InstanceSample, one per instance and second. */
  instance: "eas.metrics.instance.*.*",
  /** `eas.metrics.queue.<service>`: QueueSample, from the async-queue, one per async service and second. */
  queue: "eas.metrics.queue.*",
  /** Everything above. */
  all: "eas.metrics.>",
} as const;

const TOKEN = /^[A-Za-z0-9_-]+$/;

function token(value: string, what: string): string {
  if (!TOKEN.test(value)) throw new Error(`${what} "${value}" cannot be a NATS subject token`);
  return value;
}

export function gatewaySampleSubject(service: string): string {
  return `eas.metrics.gateway.${token(service, "service")}`;
}

export function instanceSampleSubject(service: string, instanceId: string): string {
  return `eas.metrics.instance.${token(service, "service")}.${token(instanceId, "instance id")}`;
}

export function queueSampleSubject(service: string): string {
  return `eas.metrics.queue.${token(service, "service")}`;
}

export function encodeGatewaySample(sample: GatewaySample): Uint8Array {
  return GatewaySample.encode(sample).finish();
}

export function decodeGatewaySample(bytes: Uint8Array): GatewaySample {
  return GatewaySample.decode(bytes);
}

export function encodeInstanceSample(sample: InstanceSample): Uint8Array {
  return InstanceSample.encode(sample).finish();
}

export function decodeInstanceSample(bytes: Uint8Array): InstanceSample {
  return InstanceSample.decode(bytes);
}

/** `eas.metrics.gateway.<service>` as a bus subject: `bus.publish(gatewaySamples.with(service), sample)`. Untraced (telemetry). */
export const gatewaySamples: Subject<GatewaySample> = defineEncodedSubject<GatewaySample>(
  MetricsSubjects.gateway,
  { encode: encodeGatewaySample, decode: decodeGatewaySample },
  { traced: false },
);

/** `eas.metrics.instance.<service>.<instance_id>` as a bus subject. Untraced (telemetry). */
export const instanceSamples: Subject<InstanceSample> = defineEncodedSubject<InstanceSample>(
  MetricsSubjects.instance,
  { encode: encodeInstanceSample, decode: decodeInstanceSample },
  { traced: false },
);

export function encodeQueueSample(sample: QueueSample): Uint8Array {
  return QueueSample.encode(sample).finish();
}

export function decodeQueueSample(bytes: Uint8Array): QueueSample {
  return QueueSample.decode(bytes);
}

/** `eas.metrics.queue.<service>` as a bus subject: what the autoscaler reads an async service's backlog from. Untraced. */
export const queueSamples: Subject<QueueSample> = defineEncodedSubject<QueueSample>(
  MetricsSubjects.queue,
  { encode: encodeQueueSample, decode: decodeQueueSample },
  { traced: false },
);

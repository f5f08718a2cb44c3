import type { ContainerSpec, Probe, ProcessorSpec, ServiceSpec } from "@eas/proto";

import { parseConfigString } from "./runtime-schema.js";
import type { ProbeDocument, ServiceDocument } from "./schema.js";

type Metadata = NonNullable<ServiceDocument["metadata"]>;
type Container = NonNullable<ServiceDocument["containers"]>[number];

/**
 * The document that yields `spec` again: every value explicit, one canonical spelling (`metadata.name`,
 * `script`, `readiness_probe`, `processor_config`, storage `source`, `cloud.computing.spot`). Updates are merged
 * onto it. For a spec made by `validateServiceDocument`, `validateServiceDocument(specToDocument(spec))` gives an
 * equal spec and no warnings.
 */
export function specToDocument(spec: ServiceSpec): ServiceDocument {
  const metadata: Metadata = { name: spec.name, instance: spec.instance };
  const resources = spec.resources;
  if (resources !== undefined) {
    if (resources.cpuMillis > 0) metadata.cpu = resources.cpuMillis / 1000;
    if (resources.memoryMib > 0) metadata.memory = resources.memoryMib;
    metadata.gpu = resources.gpu;
    metadata.gpu_memory = resources.gpuMemoryGib;
    if (resources.gpuType !== "") metadata.gpu_type = resources.gpuType;
  }
  if (spec.resourceGroup !== "") metadata.resource = spec.resourceGroup;
  if (spec.resourceBurstable) metadata.resource_burstable = true;
  if (spec.rebalanceDisabled) metadata.rebalance = false;
  const rpc = spec.rpc;
  if (rpc !== undefined) {
    metadata.rpc = { max_queue_size: rpc.maxQueueSize, rate_limit: rpc.rateLimit };
    if (rpc.keepaliveMs > 0) metadata.rpc.keepalive = rpc.keepaliveMs;
    if (rpc.maxConcurrency > 0) metadata.rpc.worker_threads = rpc.maxConcurrency;
  }

  const doc: ServiceDocument = { metadata };
  if (spec.async !== undefined) {
    metadata.type = "Async";
    doc.queue = {
      max_length: spec.async.maxLength,
      max_payload_size_kb: Math.ceil(spec.async.maxPayloadBytes / 1024),
      max_attempts: spec.async.maxAttempts,
      request_timeout_ms: spec.async.requestTimeoutMs,
      result_retention_seconds: spec.async.resultRetentionSeconds,
    };
  }
  if (spec.runtime?.$case === "container") doc.containers = [containerDocument(spec.runtime.value)];
  if (spec.runtime?.$case === "processor") Object.assign(doc, processorDocument(spec.runtime.value));
  if (spec.storage.length > 0) {
    doc.storage = spec.storage.map((mount) => ({ mount_path: mount.mountPath, source: mount.source, read_only: mount.readOnly }));
  }
  const cloud = spec.cloud;
  if (cloud && (cloud.spotAllowed || cloud.instances.length > 0)) {
    doc.cloud = {
      computing: {
        ...(cloud.spotAllowed ? { spot: true } : {}),
        ...(cloud.maxSpotPrice > 0 ? { max_price: cloud.maxSpotPrice } : {}),
        ...(cloud.instances.length > 0
          ? {
              instances: cloud.instances.map((choice) => ({
                ...(choice.type ? { type: choice.type } : {}),
                ...(choice.spotPriceLimit > 0 ? { spot_price_limit: choice.spotPriceLimit } : {}),
              })),
            }
          : {}),
      },
    };
  }
  if (Object.keys(spec.labels).length > 0) doc.labels = { ...spec.labels };
  return doc;
}

function containerDocument(container: ContainerSpec): Container {
  const doc: Container = { script: container.command, port: container.port };
  if (container.image !== "") doc.image = container.image;
  if (container.env.length > 0) doc.env = container.env.map((entry) => ({ name: entry.name, value: entry.value }));
  if (container.readiness !== undefined) doc.readiness_probe = probeDocument(container.readiness);
  if (container.liveness !== undefined) doc.liveness_probe = probeDocument(container.liveness);
  return doc;
}

function probeDocument(probe: Probe): ProbeDocument {
  const port = probe.port > 0 ? { port: probe.port } : {};
  const doc: ProbeDocument =
    probe.kind === "http" ? { http_get: { path: probe.path === "" ? "/" : probe.path, ...port } } : { tcp_socket: { ...port } };
  doc.initial_delay_seconds = probe.initialDelayMs / 1000;
  if (probe.periodMs > 0) doc.period_seconds = probe.periodMs / 1000;
  if (probe.timeoutMs > 0) doc.timeout_seconds = probe.timeoutMs / 1000;
  if (probe.failureThreshold > 0) doc.failure_threshold = probe.failureThreshold;
  return doc;
}

function processorDocument(processor: ProcessorSpec): Pick<ServiceDocument, "processor" | "model_path" | "processor_config"> {
  const doc: Pick<ServiceDocument, "processor" | "model_path" | "processor_config"> = { processor: processor.name };
  if (processor.modelPath !== "") doc.model_path = processor.modelPath;
  const config = processor.configJson.trim();
  if (config !== "" && config !== "{}") doc.processor_config = parseConfigString(config) ?? config;
  return doc;
}

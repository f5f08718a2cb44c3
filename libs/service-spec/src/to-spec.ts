import type { AsyncConfig, CloudConfig, ContainerSpec, EnvVar, Probe, ProcessorSpec, ServiceSpec, StorageMount } from "@eas/proto";

import { formatWarning, type PathSegment } from "./issues.js";
import { EMPTY_DIR_SOURCE, PROBE_DEFAULTS, SPEC_DEFAULTS, isRecord, normalizeMountPath, readSource } from "./rules.js";
import { QUEUE_DEFAULTS } from "./queue-schema.js";
import { LIVENESS_KEYS, READINESS_KEYS, parseConfigString } from "./runtime-schema.js";
import type { ProbeDocument, ServiceDocument } from "./schema.js";

/** Why each accepted-but-ignored EAS field is ignored, by the object that holds it. */
export const IGNORED_FIELDS = {
  document: {
    warm_up_data_path: "model warm-up is not implemented",
    token: "each service gets a generated token",
    dockerAuth: "images are not pulled, the process driver runs the command on the node",
    networking: "networking settings are not implemented, the gateway serves every service",
  },
  metadata: {
    release: "canary releases are set through the traffic API",
    enable_webservice: "every service is reachable through the gateway at /api/predict/{name}",
    workspace_id: "there are no workspaces",
    group: "service groups are not implemented",
    enable_grpc: "the gateway proxies HTTP only",
    shm_size: "the process driver does not size shared memory",
    disk: "the process driver does not limit disk",
    rolling_strategy: "updates replace instances with the deployer's own rollout",
  },
  rpc: {
    batching: "server-side batching is not implemented",
    max_batch_size: "server-side batching is not implemented",
    max_batch_timeout: "server-side batching is not implemented",
    proxy_path: "the gateway forwards /api/predict/{name}/<rest> to the instance as /<rest>",
    enable_sigterm: "instances always receive SIGTERM before they are stopped",
  },
  container: {
    startup_check: "use readiness_probe: an instance gets traffic only once it is ready",
  },
  prepare: {
    pythonRequirements: "install packages on the nodes or in the start command",
    pythonRequirementsPath: "install packages on the nodes or in the start command",
  },
  oss: {
    endpoint: "objects are read from this cluster's object store",
  },
  emptyDir: {
    medium: "empty_dir is a fresh folder on the node's disk",
    size_limit: "empty_dir is not size-limited",
  },
  cloud: {
    networking: "VPC settings do not apply",
  },
  computing: {
    instance_type: "nodes are chosen by cpu, memory and gpu, not by cloud instance type",
    disable_spot_protection_period: "spot nodes have no protection period",
  },
  instance: {
    capacity: "nodes are registered by their agents; a type's capacity is not bought",
  },
} as const;

/** Environment variables the agent sets itself. */
const AGENT_ENV = ["PORT", "LISTENING_PORT"];

/**
 * Turns a validated document into the normalized spec, filling defaults, and lists what it ignored.
 * The document must have passed `serviceDocumentSchema`; nothing here fails.
 */
export function documentToSpec(doc: ServiceDocument): { spec: ServiceSpec; warnings: string[] } {
  const warnings: string[] = [];
  const warnIgnored = (holder: object | undefined, reasons: Readonly<Record<string, string>>, path: PathSegment[]) => {
    if (holder === undefined) return;
    const record = holder as Record<string, unknown>;
    for (const [key, reason] of Object.entries(reasons)) {
      if (record[key] !== undefined) warnings.push(formatWarning([...path, key], `accepted but ignored: ${reason}`));
    }
  };

  const metadata = doc.metadata ?? {};
  const rpc = metadata.rpc ?? {};
  warnIgnored(doc, IGNORED_FIELDS.document, []);
  warnIgnored(metadata, IGNORED_FIELDS.metadata, ["metadata"]);
  warnIgnored(rpc, IGNORED_FIELDS.rpc, ["metadata", "rpc"]);

  const source = (raw: string, allowEmptyDir: boolean, path: PathSegment[]): string => {
    const reading = readSource(raw, allowEmptyDir);
    if (!reading.ok) return raw; // unreachable after validation
    if (reading.fromOss) {
      warnings.push(
        formatWarning(
          path,
          `${JSON.stringify(raw)} is read from this cluster's object store as ${JSON.stringify(reading.source)}, so upload the files there`,
        ),
      );
    }
    return reading.source;
  };

  let runtime: ServiceSpec["runtime"];
  const container = doc.containers?.[0];
  if (container !== undefined) {
    runtime = { $case: "container", value: toContainer(container, warnings, warnIgnored) };
  } else if (doc.processor !== undefined) {
    const processor: ProcessorSpec = {
      name: doc.processor,
      modelPath: doc.model_path === undefined ? "" : source(doc.model_path, false, ["model_path"]),
      configJson: configJson(doc.processor_config ?? doc.model_config),
    };
    runtime = { $case: "processor", value: processor };
  }

  const storage: StorageMount[] = (doc.storage ?? []).map((entry, index) => {
    const at: PathSegment[] = ["storage", index];
    warnIgnored(entry.oss, IGNORED_FIELDS.oss, [...at, "oss"]);
    warnIgnored(entry.empty_dir, IGNORED_FIELDS.emptyDir, [...at, "empty_dir"]);
    let mountSource = EMPTY_DIR_SOURCE;
    if (entry.source !== undefined) mountSource = source(entry.source, true, [...at, "source"]);
    else if (entry.oss !== undefined) mountSource = source(entry.oss.path, false, [...at, "oss", "path"]);
    else if (entry.local !== undefined) mountSource = `file://${entry.local.path}`;
    else if (entry.file !== undefined) mountSource = `file://${entry.file.path}`;
    return {
      mountPath: normalizeMountPath(entry.mount_path),
      source: mountSource,
      readOnly: entry.read_only ?? entry.oss?.readOnly ?? false,
    };
  });

  warnIgnored(doc.cloud, IGNORED_FIELDS.cloud, ["cloud"]);
  const computing = doc.cloud?.computing;
  warnIgnored(computing, IGNORED_FIELDS.computing, ["cloud", "computing"]);
  computing?.instances?.forEach((entry, index) => warnIgnored(entry, IGNORED_FIELDS.instance, ["cloud", "computing", "instances", index]));
  const limits = (computing?.instances ?? []).flatMap((entry) => (entry.spot_price_limit === undefined ? [] : [entry.spot_price_limit]));
  const spotAllowed =
    computing?.spot === true ||
    computing?.spot_strategy === "SpotAsPriceGo" ||
    computing?.spot_strategy === "SpotWithPriceLimit" ||
    computing?.max_price !== undefined ||
    limits.length > 0;
  const cloud: CloudConfig = {
    spotAllowed,
    maxSpotPrice: spotAllowed ? (computing?.max_price ?? (limits.length > 0 ? Math.max(...limits) : 0)) : 0,
    instances: (computing?.instances ?? []).map((entry) => ({ type: entry.type ?? "", spotPriceLimit: entry.spot_price_limit ?? 0 })),
  };

  const labels: Record<string, string> = {};
  for (const [key, value] of Object.entries(doc.labels ?? {})) labels[key] = String(value);

  const spec: ServiceSpec = {
    name: metadata.name ?? doc.name ?? "",
    instance: metadata.instance ?? SPEC_DEFAULTS.instance,
    resources: {
      cpuMillis: metadata.cpu === undefined ? SPEC_DEFAULTS.cpuMillis : Math.round(metadata.cpu * 1000),
      memoryMib: metadata.memory ?? SPEC_DEFAULTS.memoryMib,
      gpu: metadata.gpu ?? SPEC_DEFAULTS.gpu,
      gpuType: metadata.gpu_type ?? "",
      gpuMemoryGib: metadata.gpu_memory ?? SPEC_DEFAULTS.gpuMemoryGib,
    },
    resourceGroup: metadata.resource ?? "",
    resourceBurstable: metadata.resource_burstable ?? false,
    rpc: {
      keepaliveMs: rpc.keepalive ?? SPEC_DEFAULTS.keepaliveMs,
      maxConcurrency: rpc.worker_threads ?? SPEC_DEFAULTS.maxConcurrency,
      maxQueueSize: rpc.max_queue_size ?? SPEC_DEFAULTS.maxQueueSize,
      rateLimit: rpc.rate_limit ?? SPEC_DEFAULTS.rateLimit,
    },
    runtime,
    storage,
    cloud,
    labels,
    rebalanceDisabled: metadata.rebalance === false,
    async: metadata.type === "Async" ? toAsyncConfig(doc.queue ?? {}) : undefined,
  };
  return { spec, warnings };
}

function toAsyncConfig(queue: NonNullable<ServiceDocument["queue"]>): AsyncConfig {
  return {
    maxLength: queue.max_length ?? QUEUE_DEFAULTS.maxLength,
    maxPayloadBytes: (queue.max_payload_size_kb ?? QUEUE_DEFAULTS.maxPayloadKb) * 1024,
    maxAttempts: queue.max_attempts ?? QUEUE_DEFAULTS.maxAttempts,
    requestTimeoutMs: queue.request_timeout_ms ?? QUEUE_DEFAULTS.requestTimeoutMs,
    resultRetentionSeconds: queue.result_retention_seconds ?? QUEUE_DEFAULTS.resultRetentionSeconds,
  };
}

type WarnIgnored = (holder: object | undefined, reasons: Readonly<Record<string, string>>, path: PathSegment[]) => void;

function toContainer(
  container: NonNullable<ServiceDocument["containers"]>[number],
  warnings: string[],
  warnIgnored: WarnIgnored,
): ContainerSpec {
  const at: PathSegment[] = ["containers", 0];
  const port = container.port ?? SPEC_DEFAULTS.port;
  if (container.image !== undefined) {
    warnings.push(formatWarning([...at, "image"], "recorded only: the process driver runs the command on the node, not in this image"));
  }
  warnIgnored(container, IGNORED_FIELDS.container, at);
  warnIgnored(container.prepare, IGNORED_FIELDS.prepare, [...at, "prepare"]);

  const env: EnvVar[] = (container.env ?? []).map((entry, index) => {
    if (AGENT_ENV.includes(entry.name)) {
      warnings.push(
        formatWarning(
          [...at, "env", index, "name"],
          `${entry.name} is set by the agent from containers[0].port, so this value is overridden`,
        ),
      );
    }
    return { name: entry.name, value: entry.value === undefined ? "" : String(entry.value) };
  });

  const probe = (keys: readonly string[]): { doc: ProbeDocument; key: string } | undefined => {
    const holder = container as Record<string, unknown>;
    for (const key of keys) {
      const value = holder[key];
      if (isRecord(value)) return { doc: value as ProbeDocument, key };
    }
    return undefined;
  };
  const readinessDoc = probe(READINESS_KEYS);
  const livenessDoc = probe(LIVENESS_KEYS);
  for (const found of [readinessDoc, livenessDoc]) {
    if (found !== undefined && found.doc.success_threshold !== undefined && found.doc.success_threshold !== 1) {
      warnings.push(formatWarning([...at, found.key, "success_threshold"], "accepted but ignored: one success makes a probe pass"));
    }
  }

  return {
    image: container.image ?? "",
    command: container.script ?? container.command ?? "",
    port,
    env,
    readiness: readinessDoc === undefined ? defaultReadiness(port) : toProbe(readinessDoc.doc, port),
    liveness: livenessDoc === undefined ? undefined : toProbe(livenessDoc.doc, port),
  };
}

/** With no readiness probe, an instance is ready once its port accepts TCP connections (as in EAS). */
export function defaultReadiness(port: number): Probe {
  return { kind: "tcp", path: "", port, ...PROBE_DEFAULTS };
}

function toProbe(probe: ProbeDocument, containerPort: number): Probe {
  const millis = (secondsValue: number | undefined, fallback: number) =>
    secondsValue === undefined ? fallback : Math.round(secondsValue * 1000);
  const timings = {
    initialDelayMs: millis(probe.initial_delay_seconds, PROBE_DEFAULTS.initialDelayMs),
    periodMs: millis(probe.period_seconds, PROBE_DEFAULTS.periodMs),
    timeoutMs: millis(probe.timeout_seconds, PROBE_DEFAULTS.timeoutMs),
    failureThreshold: probe.failure_threshold ?? PROBE_DEFAULTS.failureThreshold,
  };
  if (probe.http_get !== undefined) {
    return { kind: "http", path: probe.http_get.path ?? "/", port: probe.http_get.port ?? containerPort, ...timings };
  }
  return { kind: "tcp", path: "", port: probe.tcp_socket?.port ?? containerPort, ...timings };
}

/** Canonical JSON of a processor config given as an object or a JSON string; "{}" when absent or blank. */
function configJson(config: Record<string, unknown> | string | undefined): string {
  if (config === undefined) return SPEC_DEFAULTS.configJson;
  if (typeof config !== "string") return JSON.stringify(config);
  if (config.trim() === "") return SPEC_DEFAULTS.configJson;
  return JSON.stringify(parseConfigString(config) ?? {});
}

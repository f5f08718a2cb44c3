import * as z from "zod";

import { closestMatch, describeValue, type PathSegment } from "./issues.js";
import {
  BUILT_IN_PROCESSORS,
  PROCESSORS_NEEDING_MODEL,
  bool,
  commandLine,
  containsCycle,
  cores,
  envName,
  gpuType,
  httpPath,
  ignored,
  isRecord,
  labelKeyProblem,
  labelValue,
  mountPath,
  mustBe,
  nonEmptyString,
  instanceCount,
  nonNegativeInt,
  normalizeMountPath,
  portNumber,
  positiveInt,
  price,
  readSource,
  refused,
  resourceGroup,
  rule,
  scalarString,
  seconds,
  serviceName,
  sourceString,
  string,
} from "./rules.js";

type AddIssue = (path: PathSegment[], message: string) => void;

/**
 * Adds a cross-field check that runs even when fields inside already failed, so that one pass reports every
 * issue (zod skips refinements after a failed field by default). `check` therefore sees unvalidated input.
 */
function withCheck<T extends z.ZodType>(schema: T, check: (value: unknown, add: AddIssue) => void): T {
  return schema.superRefine((value, ctx) => check(value, (path, message) => ctx.addIssue({ code: "custom", path, message })), {
    when: () => true,
  });
}

function defined(record: Record<string, unknown>, keys: readonly string[]): string[] {
  return keys.filter((key) => record[key] !== undefined);
}

// ---- probes -------------------------------------------------------------------------------------------------

const httpGetSchema = z.strictObject({
  path: httpPath.optional(),
  port: portNumber.optional(),
});

const tcpSocketSchema = z.strictObject({
  port: portNumber.optional(),
});

/** A readiness or liveness probe, in the Kubernetes shape EAS's health checks use (snake_case). */
export const probeSchema = withCheck(
  z.strictObject({
    http_get: httpGetSchema.optional(),
    tcp_socket: tcpSocketSchema.optional(),
    exec: refused("exec probes are not supported, use http_get or tcp_socket"),
    initial_delay_seconds: seconds(true).optional(),
    period_seconds: seconds(false).optional(),
    timeout_seconds: seconds(false).optional(),
    failure_threshold: positiveInt.optional(),
    /** Accepted; only 1 is meaningful (a warning says so otherwise). */
    success_threshold: positiveInt.optional(),
  }),
  (probe, add) => {
    if (!isRecord(probe)) return;
    const kinds = defined(probe, ["http_get", "tcp_socket"]);
    if (kinds.length === 0 && probe.exec === undefined) add([], "needs http_get { path, port } or tcp_socket { port }");
    if (kinds.length > 1) add(["tcp_socket"], "give http_get or tcp_socket, not both");
  },
);

// ---- containers ---------------------------------------------------------------------------------------------

const envVarSchema = z.strictObject({
  name: envName,
  /** Numbers and booleans (unquoted YAML) become strings. */
  value: scalarString.optional(),
});

const prepareSchema = z.strictObject({
  pythonRequirements: ignored(),
  pythonRequirementsPath: ignored(),
});

/** Aliases for the readiness probe, in order of preference. */
export const READINESS_KEYS = ["readiness_probe", "health_check", "readiness_check"] as const;
/** Aliases for the liveness probe, in order of preference. */
export const LIVENESS_KEYS = ["liveness_probe", "liveness_check"] as const;

const containerSchema = withCheck(
  z.strictObject({
    /** Recorded only: the process driver runs the command on the node. */
    image: nonEmptyString.optional(),
    /** The start command (EAS `script`). */
    script: commandLine.optional(),
    /** Alias of `script`. */
    command: commandLine.optional(),
    port: portNumber.optional(),
    env: z.array(envVarSchema).optional(),
    prepare: prepareSchema.optional(),
    readiness_probe: probeSchema.optional(),
    health_check: probeSchema.optional(),
    readiness_check: probeSchema.optional(),
    liveness_probe: probeSchema.optional(),
    liveness_check: probeSchema.optional(),
    startup_check: ignored(),
  }),
  (container, add) => {
    if (!isRecord(container)) return;
    const commands = defined(container, ["script", "command"]);
    if (commands.length === 0) add(["script"], "is required: the start command (command is accepted as an alias)");
    if (commands.length > 1) add(["command"], "give script or command, not both (they are aliases)");
    for (const aliases of [READINESS_KEYS, LIVENESS_KEYS]) {
      const given = defined(container, aliases);
      if (given.length > 1) add([given[1] ?? ""], `give only one of ${given.join(", ")} (they are aliases)`);
    }
    if (Array.isArray(container.env)) {
      const seen = new Map<string, number>();
      container.env.forEach((entry: unknown, index) => {
        if (!isRecord(entry) || typeof entry.name !== "string") return;
        const first = seen.get(entry.name);
        if (first === undefined) seen.set(entry.name, index);
        else add(["env", index, "name"], `duplicates env[${first}].name ${JSON.stringify(entry.name)}`);
      });
    }
  },
);

// ---- storage ------------------------------------------------------------------------------------------------

const ossPath = rule(
  (value): value is string => typeof value === "string" && /^(oss|obj):\/\//.test(value) && readSource(value, false).ok,
  (value) => {
    if (typeof value !== "string" || !/^(oss|obj):\/\//.test(value)) return mustBe("oss://bucket/key or obj://bucket/key", value);
    const reading = readSource(value, false);
    return reading.ok ? "is valid" : `${reading.message}, got ${describeValue(value)}`;
  },
);

const localPath = rule(
  (value): value is string => typeof value === "string" && value.startsWith("/") && readSource(value, false).ok,
  "an absolute path on the node",
);

/** The storage kinds an entry may name; exactly one per entry. */
export const STORAGE_KINDS = ["source", "oss", "nfs", "local", "file", "empty_dir"] as const;

const storageSchema = withCheck(
  z.strictObject({
    mount_path: mountPath,
    /** Our own spelling: obj://bucket/key, file:///abs/path or empty_dir://. */
    source: sourceString(true).optional(),
    read_only: bool.optional(),
    oss: z
      .strictObject({
        path: ossPath,
        readOnly: bool.optional(),
        endpoint: ignored(),
      })
      .optional(),
    nfs: refused(
      "NFS mounts are not supported: mount the share on every node and use file: { path: /the/share } or source: file:///the/share",
    ),
    local: z.strictObject({ path: localPath }).optional(),
    file: z.strictObject({ path: localPath }).optional(),
    empty_dir: z.strictObject({ medium: ignored(), size_limit: ignored() }).optional(),
  }),
  (entry, add) => {
    if (!isRecord(entry)) return;
    const kinds = defined(entry, STORAGE_KINDS);
    if (kinds.length === 0) add([], "needs a source: one of source, oss, local, file or empty_dir");
    if (kinds.length > 1) add([kinds[1] ?? ""], `give one of ${kinds.join(", ")}, not several`);
    const ossReadOnly = isRecord(entry.oss) ? entry.oss.readOnly : undefined;
    if (typeof entry.read_only === "boolean" && typeof ossReadOnly === "boolean" && entry.read_only !== ossReadOnly) {
      add(["read_only"], `conflicts with oss.readOnly (${String(entry.read_only)} vs ${String(ossReadOnly)})`);
    }
  },
);

// ---- cloud --------------------------------------------------------------------------------------------------

/** ECS's spot strategies, as EAS documents them. */
export const SPOT_STRATEGIES = ["NoSpot", "SpotAsPriceGo", "SpotWithPriceLimit"] as const;
export type SpotStrategy = (typeof SPOT_STRATEGIES)[number];

const spotStrategy = rule(
  (value): value is SpotStrategy => typeof value === "string" && (SPOT_STRATEGIES as readonly string[]).includes(value),
  SPOT_STRATEGIES.join(", "),
);

const computingSchema = withCheck(
  z.strictObject({
    /** Recorded only: nodes are chosen by resources, not cloud instance types. */
    instance_type: string.optional(),
    /**
     * EAS's priority list of instance types: a node must match an entry, earlier entries first. An entry with
     * `spot_price_limit` is a spot bid (spot nodes of its type up to that price); one without takes on-demand nodes.
     */
    instances: z
      .array(
        z.strictObject({
          type: string.optional(),
          spot_price_limit: price.optional(),
          capacity: ignored(),
        }),
      )
      .optional(),
    spot: bool.optional(),
    spot_strategy: spotStrategy.optional(),
    /** Highest hourly price for a spot node. */
    max_price: price.optional(),
    disable_spot_protection_period: ignored(),
  }),
  (computing, add) => {
    if (!isRecord(computing)) return;
    const limits = Array.isArray(computing.instances)
      ? computing.instances.some((entry: unknown) => isRecord(entry) && entry.spot_price_limit !== undefined)
      : false;
    const asksForSpot = [
      computing.spot === true ? "spot: true" : undefined,
      computing.max_price !== undefined ? "max_price" : undefined,
      limits ? "instances[].spot_price_limit" : undefined,
    ].filter((reason): reason is string => reason !== undefined);
    const strategy = computing.spot_strategy;
    if (strategy === "NoSpot" && asksForSpot.length > 0) {
      add(["spot_strategy"], `NoSpot conflicts with ${asksForSpot.join(", ")}`);
    }
    if (computing.spot === false) {
      const conflicts = [
        strategy === "SpotAsPriceGo" || strategy === "SpotWithPriceLimit" ? `spot_strategy ${strategy}` : undefined,
        ...asksForSpot.filter((reason) => reason !== "spot: true"),
      ].filter((reason): reason is string => reason !== undefined);
      if (conflicts.length > 0) add(["spot"], `false conflicts with ${conflicts.join(", ")}`);
    }
    if (strategy === "SpotWithPriceLimit" && computing.max_price === undefined && !limits) {
      add(["max_price"], "is required when spot_strategy is SpotWithPriceLimit");
    }
    if (strategy === "SpotAsPriceGo" && computing.max_price !== undefined) {
      add(["max_price"], "must be left out with spot_strategy SpotAsPriceGo (no ceiling), or use SpotWithPriceLimit");
    }
  },
);

const cloudSchema = z.strictObject({
  computing: computingSchema.optional(),
  networking: ignored(),
});

// ---- metadata -----------------------------------------------------------------------------------------------

const rpcSchema = z.strictObject({
  /** Request timeout, ms. */
  keepalive: positiveInt.optional(),
  /** Concurrent requests per instance. */
  worker_threads: positiveInt.optional(),
  max_queue_size: nonNegativeInt.optional(),
  /** Requests per second for the service; 0 = no limit. */
  rate_limit: nonNegativeInt.optional(),
  batching: ignored(),
  max_batch_size: ignored(),
  max_batch_timeout: ignored(),
  proxy_path: ignored(),
  enable_sigterm: ignored(),
});

const metadataSchema = z.strictObject({
  name: serviceName.optional(),
  /** Replicas. */
  instance: instanceCount.optional(),
  /** Cores. */
  cpu: cores.optional(),
  /** MB, taken as MiB. */
  memory: positiveInt.optional(),
  gpu: nonNegativeInt.optional(),
  /** GB per instance on a shared card. */
  gpu_memory: nonNegativeInt.optional(),
  gpu_type: gpuType.optional(),
  /** Dedicated resource group; absent or "" = public pool. */
  resource: resourceGroup.optional(),
  resource_burstable: bool.optional(),
  /** false: never move the replicas to spread them (default true). */
  rebalance: bool.optional(),
  rpc: rpcSchema.optional(),
  type: ignored(),
  release: ignored(),
  enable_webservice: ignored(),
  workspace_id: ignored(),
  group: ignored(),
  enable_grpc: ignored(),
  shm_size: ignored(),
  disk: ignored(),
  rolling_strategy: ignored(),
});

// ---- processor ----------------------------------------------------------------------------------------------

const processorName = rule(
  // Typed as string, not BuiltInProcessor: specToDocument may carry a stored name that validation then reports.
  (value): value is string => typeof value === "string" && (BUILT_IN_PROCESSORS as readonly string[]).includes(value),
  (value) => {
    if (typeof value !== "string") return mustBe(`the name of a built-in processor (${BUILT_IN_PROCESSORS.join(", ")})`, value);
    const near = closestMatch(value, BUILT_IN_PROCESSORS);
    return (
      `processor ${JSON.stringify(value)} is not built in; available: ${BUILT_IN_PROCESSORS.join(", ")}` +
      (near ? ` (did you mean ${JSON.stringify(near)}?)` : " (for other frameworks, use containers with your own start command)")
    );
  },
);

/** Parses a processor config given as a JSON string; undefined when it is not a JSON object. */
export function parseConfigString(text: string): Record<string, unknown> | undefined {
  try {
    const parsed: unknown = JSON.parse(text);
    return isRecord(parsed) ? parsed : undefined;
  } catch {
    return undefined;
  }
}

const processorConfig = rule(
  (value): value is Record<string, unknown> | string =>
    (isRecord(value) && !containsCycle(value)) ||
    (typeof value === "string" && (value.trim() === "" || parseConfigString(value) !== undefined)),
  "an object, or a string holding a JSON object",
);

const CUSTOM_PROCESSOR =
  "custom processors are not supported: use a built-in processor (" +
  BUILT_IN_PROCESSORS.join(", ") +
  ") or containers with your own start command";

/** Fields that only make sense with `processor`. */
export const PROCESSOR_FIELDS = ["model_path", "processor_config", "model_config"] as const;

// ---- document -----------------------------------------------------------------------------------------------

/**
 * The accepted service.json / service.yaml document (EAS's shape). Objects are strict: an unknown key is an
 * issue, so typos are caught; known EAS fields we do not implement are accepted and produce warnings.
 * Cross-field rules (name, exactly one runtime mode, aliases, duplicates, spot settings) are part of it.
 */
export const serviceDocumentSchema = withCheck(
  z.strictObject({
    /** Older EAS files put the name here; same rule as `metadata.name`. */
    name: serviceName.optional(),
    metadata: metadataSchema.optional(),
    containers: z.array(containerSchema).optional(),
    processor: processorName.optional(),
    model_path: sourceString(false).optional(),
    processor_config: processorConfig.optional(),
    /** Alias of `processor_config`. */
    model_config: processorConfig.optional(),
    processor_path: refused(CUSTOM_PROCESSOR),
    processor_entry: refused(CUSTOM_PROCESSOR),
    processor_mainclass: refused(CUSTOM_PROCESSOR),
    processor_type: refused(CUSTOM_PROCESSOR),
    warm_up_data_path: ignored(),
    token: ignored(),
    dockerAuth: ignored(),
    networking: ignored(),
    storage: z.array(storageSchema).optional(),
    cloud: cloudSchema.optional(),
    labels: z.record(z.string(), labelValue).optional(),
  }),
  checkDocument,
);

/** A validated document, as the user wrote it (defaults are applied when it becomes a `ServiceSpec`). */
export type ServiceDocument = z.output<typeof serviceDocumentSchema>;
/** A readiness or liveness probe as written in a document. */
export type ProbeDocument = z.output<typeof probeSchema>;

function checkDocument(doc: unknown, add: AddIssue): void {
  if (!isRecord(doc)) return;
  const metadata = isRecord(doc.metadata) ? doc.metadata : undefined;
  const outer = doc.name;
  const inner = metadata?.name;
  if (outer === undefined && inner === undefined) {
    add(["metadata", "name"], "is required (or name at the top level, as older EAS files have it)");
  } else if (outer !== undefined && inner !== undefined && outer !== inner) {
    add(["name"], `conflicts with metadata.name (${describeValue(outer)} vs ${describeValue(inner)}), give only one`);
  }

  const hasContainers = doc.containers !== undefined;
  const hasProcessor = doc.processor !== undefined;
  if (hasContainers && hasProcessor) {
    add(["processor"], "give either containers (your own start command) or processor (a built-in processor), not both");
  } else if (!hasContainers && !hasProcessor) {
    add([], `needs containers (your own start command) or processor (built in: ${BUILT_IN_PROCESSORS.join(", ")})`);
  }
  if (Array.isArray(doc.containers) && doc.containers.length !== 1) {
    add(
      ["containers"],
      doc.containers.length === 0
        ? "must hold one container"
        : `holds ${doc.containers.length} containers, but exactly one is supported for now (no sidecars)`,
    );
  }
  if (hasContainers && !hasProcessor) {
    for (const key of defined(doc, PROCESSOR_FIELDS)) add([key], "is only used with processor (containers run your own command)");
  }
  if (doc.processor_config !== undefined && doc.model_config !== undefined) {
    add(["model_config"], "give processor_config or model_config, not both (they are aliases)");
  }
  if (
    typeof doc.processor === "string" &&
    (PROCESSORS_NEEDING_MODEL as readonly string[]).includes(doc.processor) &&
    doc.model_path === undefined
  ) {
    add(["model_path"], `is required for processor ${doc.processor}`);
  }

  if (Array.isArray(doc.storage)) {
    const seen = new Map<string, number>();
    doc.storage.forEach((entry: unknown, index) => {
      if (!isRecord(entry) || typeof entry.mount_path !== "string") return;
      const path = normalizeMountPath(entry.mount_path);
      const first = seen.get(path);
      if (first === undefined) seen.set(path, index);
      else add(["storage", index, "mount_path"], `duplicates storage[${first}].mount_path ${JSON.stringify(path)}`);
    });
  }

  if (isRecord(doc.labels)) {
    for (const key of Object.keys(doc.labels)) {
      const problem = labelKeyProblem(key);
      if (problem) add(["labels", key], problem);
    }
  }
}

/**
 * The keys an object in the document accepts at `path` (for "did you mean" hints), found by walking the schema.
 */
export function knownKeysAt(path: readonly PathSegment[]): string[] {
  let schema: unknown = serviceDocumentSchema;
  for (const segment of path) {
    schema = unwrap(schema);
    const def = defOf(schema);
    if (def?.type === "object" && typeof segment === "string" && isRecord(def.shape)) schema = def.shape[segment];
    else if (def?.type === "array" && typeof segment === "number") schema = def.element;
    else if (def?.type === "record") schema = def.valueType;
    else return [];
  }
  const def = defOf(unwrap(schema));
  return def?.type === "object" && isRecord(def.shape) ? Object.keys(def.shape) : [];
}

interface LooseDef {
  type?: unknown;
  shape?: unknown;
  element?: unknown;
  valueType?: unknown;
  innerType?: unknown;
  in?: unknown;
}

function defOf(schema: unknown): LooseDef | undefined {
  if (!isRecord(schema)) return undefined;
  const internals = schema._zod;
  return isRecord(internals) && isRecord(internals.def) ? (internals.def as LooseDef) : undefined;
}

function unwrap(schema: unknown): unknown {
  let current = schema;
  for (let depth = 0; depth < 10; depth++) {
    const def = defOf(current);
    if (def?.type === "optional" || def?.type === "nullable" || def?.type === "default") current = def.innerType;
    else if (def?.type === "pipe") current = def.in;
    else break;
  }
  return current;
}

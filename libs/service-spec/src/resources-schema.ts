import * as z from "zod";

import { describeValue } from "./issues.js";
import {
  bool,
  cores,
  gpuType,
  ignored,
  isRecord,
  mountPath,
  mustBe,
  instanceCount,
  nonNegativeInt,
  positiveInt,
  price,
  readSource,
  refused,
  resourceGroup,
  rule,
  serviceName,
  sourceString,
  string,
} from "./rules.js";
import { defined, withCheck } from "./schema-kit.js";
import { serviceType } from "./queue-schema.js";

/*
 * Where and with what a service runs: its storage mounts, cloud (spot) settings and metadata
 * (name, replicas, resources, rpc limits).
 */

// ---- storage -------------------------------------------------------------------------------------------------------

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

export const storageSchema = withCheck(
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

// ---- cloud ---------------------------------------------------------------------------------------------------------

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

export const cloudSchema = z.strictObject({
  computing: computingSchema.optional(),
  networking: ignored(),
});

// ---- metadata ------------------------------------------------------------------------------------------------------

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

export const metadataSchema = z.strictObject({
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
  /** "Standard" (the default) or "Async": requests are queued, see the document's `queue` section. */
  type: serviceType.optional(),
  release: ignored(),
  enable_webservice: ignored(),
  workspace_id: ignored(),
  group: ignored(),
  enable_grpc: ignored(),
  shm_size: ignored(),
  disk: ignored(),
  rolling_strategy: ignored(),
});

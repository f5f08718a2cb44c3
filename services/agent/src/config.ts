import { parseRate } from "@eas/contracts";
import { ConfigError, commonConfigSpec, envVar, type EnvVar } from "@eas/service-kit";

/** An hourly price in currency units ("0.04"), read exactly into micro-units; undefined when not set. */
function rateVar(name: string, description: string): EnvVar<number | undefined> {
  return {
    name,
    description,
    defaultValue: undefined,
    parse(raw) {
      if (raw === undefined || raw.trim() === "") return undefined;
      try {
        return parseRate(raw, name);
      } catch (error) {
        throw new ConfigError(name, (error as Error).message.slice(name.length + 2));
      }
    },
  };
}

/** Every environment variable the agent reads; several agents on one machine differ by node id and ports. */
export const agentConfigSpec = {
  ...commonConfigSpec({ grpcPort: 0, httpPort: 0 }),
  nodeId: envVar.string("EAS_NODE_ID", "node-1", "this node's id"),
  cpuMillis: envVar.int("EAS_NODE_CPU_MILLIS", 4000, "CPU capacity offered to instances, in millicores"),
  memoryMib: envVar.int("EAS_NODE_MEMORY_MIB", 8192, "memory capacity offered to instances, in MiB"),
  gpu: envVar.int("EAS_NODE_GPU", 0, "GPUs offered to instances"),
  gpuType: envVar.string("EAS_NODE_GPU_TYPE", "", "GPU model, e.g. A10"),
  resourceGroup: envVar.string("EAS_RESOURCE_GROUP", "", "dedicated resource group; empty = public pool"),
  spot: envVar.bool("EAS_NODE_SPOT", false, "preemptible node"),
  pricePerHour: envVar.number(
    "EAS_NODE_PRICE_PER_HOUR",
    0,
    "list price of the whole node per hour, for placement (spot price ceiling, cheaper nodes first); billing uses the rates",
  ),
  ratesFile: envVar.optional(
    "EAS_RATES_FILE",
    "rates file (JSON, docs/billing.md): default hourly rates per class of capacity; this node registers its class's",
  ),
  cpuCoreHourRate: rateVar("EAS_NODE_RATE_CPU_CORE_HOUR", "price of one CPU core for one hour, e.g. 0.04 (overrides the rates file)"),
  memoryGibHourRate: rateVar("EAS_NODE_RATE_MEMORY_GIB_HOUR", "price of one GiB of memory for one hour (overrides the rates file)"),
  gpuHourRate: rateVar("EAS_NODE_RATE_GPU_HOUR", "price of one GPU for one hour (overrides the rates file)"),
  instanceType: envVar.string(
    "EAS_NODE_INSTANCE_TYPE",
    "",
    "cloud instance type of the node, matched against cloud.computing.instances[].type",
  ),
  reclaimNoticeFile: envVar.string(
    "EAS_RECLAIM_NOTICE_FILE",
    "",
    "file a cloud metadata watcher writes a spot reclaim notice into (default <data dir>/agents/<node>/reclaim-notice.json)",
  ),
  reclaimSignalNoticeMs: envVar.int("EAS_RECLAIM_SIGNAL_NOTICE_MS", 30_000, "the reclaim notice a SIGUSR2 to the agent stands for, in ms"),
  cacheMaxBytes: envVar.int(
    "EAS_AGENT_CACHE_MAX_BYTES",
    0,
    "byte budget of the model/code cache; entries no instance uses are evicted least recently used first (0 = no limit)",
  ),
  schedulerAddress: envVar.string("EAS_SCHEDULER_ADDR", "127.0.0.1:50052", "scheduler gRPC address"),
};

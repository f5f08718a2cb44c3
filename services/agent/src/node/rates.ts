import { readFileSync } from "node:fs";
import { capacityClassOf, FREE_RATES, parseRatesFile, type HourlyRates, type RatesTable } from "@eas/contracts";
import type { ConfigOf } from "@eas/service-kit";
import type { agentConfigSpec } from "../config.js";

type RatesConfig = Pick<
  ConfigOf<typeof agentConfigSpec>,
  "spot" | "resourceGroup" | "cpuCoreHourRate" | "memoryGibHourRate" | "gpuHourRate"
>;

/**
 * The hourly rates this node registers (and so what the billing charges for its instances): its class's
 * line of the rates file (spot when preemptible, dedicated in a resource group, else public), each rate
 * replaced by its EAS_NODE_RATE_* variable when that is set; free when neither gives one.
 */
export function nodeRates(config: RatesConfig, table: RatesTable): HourlyRates {
  const base = table[capacityClassOf({ spot: config.spot, dedicated: config.resourceGroup !== "" })] ?? FREE_RATES;
  return {
    cpuCoreHourMicros: config.cpuCoreHourRate ?? base.cpuCoreHourMicros,
    memoryGibHourMicros: config.memoryGibHourRate ?? base.memoryGibHourMicros,
    gpuHourMicros: config.gpuHourRate ?? base.gpuHourMicros,
  };
}

/** Reads the rates file named by EAS_RATES_FILE; an empty table without one. Throws naming a bad field. */
export function loadRatesTable(path: string | undefined): RatesTable {
  if (!path) return {};
  try {
    return parseRatesFile(readFileSync(path, "utf8"));
  } catch (error) {
    throw new Error(`EAS_RATES_FILE ${path}: ${(error as Error).message}`, { cause: error });
  }
}

import { describe, it } from "node:test";
import assert from "node:assert/strict";
import type { RatesTable } from "@eas/contracts";
import { readConfig } from "@eas/service-kit";
import { agentConfigSpec } from "../config.js";
import { nodeRates } from "./rates.js";

const table: RatesTable = {
  public: { cpuCoreHourMicros: 40_000, memoryGibHourMicros: 5_000, gpuHourMicros: 1_200_000 },
  dedicated: { cpuCoreHourMicros: 30_000, memoryGibHourMicros: 4_000, gpuHourMicros: 900_000 },
  spot: { cpuCoreHourMicros: 12_000, memoryGibHourMicros: 1_500, gpuHourMicros: 400_000 },
};
const config = (env: Record<string, string>) => readConfig(agentConfigSpec, env);

describe("nodeRates", () => {
  const cases: [string, Record<string, string>, keyof typeof table][] = [
    ["a public node", {}, "public"],
    ["a node of a resource group", { EAS_RESOURCE_GROUP: "team-a" }, "dedicated"],
    ["a spot node, even in a group", { EAS_NODE_SPOT: "true", EAS_RESOURCE_GROUP: "team-a" }, "spot"],
  ];
  for (const [what, env, expected] of cases) {
    it(`registers the ${expected} line of the rates file for ${what}`, () =>
      assert.deepEqual(nodeRates(config(env), table), table[expected]));
  }

  it("lets each EAS_NODE_RATE_* variable replace its rate, read exactly", () => {
    const rates = nodeRates(config({ EAS_NODE_RATE_CPU_CORE_HOUR: "0.1", EAS_NODE_RATE_GPU_HOUR: "2.000001" }), table);
    assert.deepEqual(rates, { cpuCoreHourMicros: 100_000, memoryGibHourMicros: 5_000, gpuHourMicros: 2_000_001 });
  });

  it("is free without a rates file or variables", () => {
    assert.deepEqual(nodeRates(config({}), {}), { cpuCoreHourMicros: 0, memoryGibHourMicros: 0, gpuHourMicros: 0 });
  });

  it("refuses a negative price, naming the variable", () => {
    assert.throws(() => config({ EAS_NODE_RATE_MEMORY_GIB_HOUR: "-0.5" }), /EAS_NODE_RATE_MEMORY_GIB_HOUR: must not be negative/);
  });
});

import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { capacityClassOf, InvalidRatesError, parseRatesFile, rateViolations } from "./rates.js";

describe("parseRatesFile", () => {
  it("reads each class's hourly rates into micro-units; a key left out is free", () => {
    const table = parseRatesFile(
      JSON.stringify({
        $comment: "list prices",
        public: { cpu_core_hour: "0.04", memory_gib_hour: "0.005", gpu_hour: "1.20" },
        spot: { cpu_core_hour: 0.012 },
      }),
    );
    assert.deepEqual(table, {
      public: { cpuCoreHourMicros: 40_000, memoryGibHourMicros: 5_000, gpuHourMicros: 1_200_000 },
      spot: { cpuCoreHourMicros: 12_000, memoryGibHourMicros: 0, gpuHourMicros: 0 },
    });
  });

  const bad: [string, string][] = [
    ["not json", "(file)"],
    ["[]", "(file)"],
    [JSON.stringify({ reserved: {} }), "reserved"],
    [JSON.stringify({ public: 3 }), "public"],
    [JSON.stringify({ public: { cpu: "1" } }), "public.cpu"],
    [JSON.stringify({ spot: { gpu_hour: "-0.5" } }), "spot.gpu_hour"],
    [JSON.stringify({ dedicated: { memory_gib_hour: "0.0000001" } }), "dedicated.memory_gib_hour"],
    [JSON.stringify({ dedicated: { cpu_core_hour: true } }), "dedicated.cpu_core_hour"],
  ];
  for (const [text, field] of bad) {
    it(`refuses ${text} naming ${field}`, () => {
      assert.throws(
        () => parseRatesFile(text),
        (error: unknown) => error instanceof InvalidRatesError && error.field === field && error.message.startsWith(`${field}: `),
      );
    });
  }
});

describe("capacityClassOf", () => {
  it("is spot when preemptible, else dedicated in a group, else public", () => {
    assert.equal(capacityClassOf({ spot: true, dedicated: true }), "spot");
    assert.equal(capacityClassOf({ spot: false, dedicated: true }), "dedicated");
    assert.equal(capacityClassOf({ spot: false, dedicated: false }), "public");
  });
});

describe("rateViolations", () => {
  it("names each negative or fractional rate", () => {
    assert.deepEqual(rateViolations({ cpuCoreHourMicros: -1, memoryGibHourMicros: 0.5, gpuHourMicros: 3 }, "rates"), [
      { path: "rates.cpuCoreHourMicros", message: "must not be negative, got -1" },
      { path: "rates.memoryGibHourMicros", message: "must be an integer number of micro-units, got 0.5" },
    ]);
    assert.deepEqual(rateViolations(undefined, "rates"), []);
  });
});

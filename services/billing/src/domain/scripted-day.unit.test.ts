import { describe, it } from "node:test";
import assert from "node:assert/strict";
import type { EasEvent } from "@eas/events";
import { meteringProjection } from "../projections/metering.js";
import { at, ms } from "../testing/log.js";
import { SCRIPTED_DAY, SCRIPTED_DAY_BILL, SCRIPTED_DAY_TOTAL } from "../testing/scripted-day.js";
import { computeBill, type BillGrouping } from "./bill.js";
import { emptyMeter, meterEvent, type MeterState } from "./metering.js";
import { addUsage, zeroUsage } from "./pricing.js";

const DAY_RANGE = { fromMs: ms("00:00:00"), toMs: ms("24:00:00"), nowMs: ms("24:00:00") };
const fold = (events: readonly EasEvent[], state: MeterState = emptyMeter()) => events.reduce((s, e) => meterEvent(s, e, 0), state);
const classLines = (meter: MeterState) =>
  computeBill(meter, { ...DAY_RANGE, by: "class" }).lines.map((l) => ({
    service: l.service,
    capacityClass: l.capacityClass,
    costMicros: l.usage.costMicros,
  }));

describe("the scripted day", () => {
  const meter = fold(SCRIPTED_DAY);

  it("bills each service and class as computed by hand, to the micro-unit", () => {
    assert.deepEqual(classLines(meter), SCRIPTED_DAY_BILL);
    assert.equal(computeBill(meter, { ...DAY_RANGE, by: "class" }).total.costMicros, SCRIPTED_DAY_TOTAL);
  });

  it("bills each instance as computed by hand", () => {
    const lines = computeBill(meter, { ...DAY_RANGE, by: "instance" }).lines;
    const byInstance = Object.fromEntries(lines.map((l) => [l.key, l.usage.costMicros]));
    assert.deepEqual(byInstance, {
      j1: 4_059_104n,
      j2: 9_863_726n,
      e1: 110n,
      i1: 173_280n,
      i2: 173_760n,
      i4: 259_320n,
      i5: 258_840n,
      i7: 130_080n,
      i3: 29_280n,
      i6: 42_840n,
      o1: 50_400n,
    });
  });

  it("cuts iris's noon hour as computed by hand: the rolling update holds old and new instances at once", () => {
    const lines = computeBill(meter, { ...DAY_RANGE, service: "iris", by: "hour" }).lines.filter((l) => l.key === String(ms("12:00:00")));
    // public: i1 40 s + i2 80 s + i4 3,600 s + i5 3,560 s = 7,280 s x 12; spot: i3 120 s + i6 3,520 s = 3,640 s x 4
    assert.deepEqual(
      lines.map((l) => [l.capacityClass, l.usage.costMicros]),
      [
        ["public", 87_360n],
        ["spot", 14_560n],
      ],
    );
  });

  it("measures resource-hours exactly: bert held 2 cores and a GPU for 18,121 s and then 35,999 s", () => {
    const bert = computeBill(meter, { ...DAY_RANGE, service: "bert", by: "class" }).total;
    assert.equal(bert.instanceMs, 54_120_000n);
    assert.equal(bert.cpuMilliMs, 54_120_000n * 2000n);
    assert.equal(bert.memoryMibMs, 54_120_000n * 8192n);
    assert.equal(bert.gpuMs, 54_120_000n);
  });

  it("bills the instance still running up to now", () => {
    const at20 = computeBill(meter, { ...DAY_RANGE, nowMs: ms("20:00:00"), service: "bert", by: "instance" }).lines;
    // j2 from 14:00:01 to 20:00:00: 21,599 s x 274
    assert.equal(at20.find((l) => l.key === "j2")?.usage.costMicros, 5_918_126n);
  });

  for (const by of ["hour", "day", "instance"] as BillGrouping[]) {
    it(`adds up to the same total by ${by}`, () => {
      const bill = computeBill(meter, { ...DAY_RANGE, by });
      const sum = bill.lines.reduce((total, line) => addUsage(total, line.usage), zeroUsage());
      assert.deepEqual(sum, bill.total);
      assert.equal(bill.total.costMicros, SCRIPTED_DAY_TOTAL);
    });
  }

  it("gives the same bill when every event is delivered twice", () => {
    const twice = fold(SCRIPTED_DAY.flatMap((e) => [e, e]));
    assert.deepEqual(classLines(twice), SCRIPTED_DAY_BILL);
  });

  it("gives the same bill resumed from a snapshot taken anywhere in the day", () => {
    for (const cut of [1, 10, 25, 40, SCRIPTED_DAY.length - 3]) {
      const snapshot = JSON.parse(JSON.stringify(meteringProjection.toSnapshot!(fold(SCRIPTED_DAY.slice(0, cut))))) as unknown;
      const resumed = fold(SCRIPTED_DAY.slice(cut), meteringProjection.fromSnapshot!(snapshot));
      assert.deepEqual(classLines(resumed), SCRIPTED_DAY_BILL, `snapshot after ${cut} events`);
    }
  });

  it("is the same the next day: nothing of the day is billed again", () => {
    const nextDay = computeBill(meter, { fromMs: ms("24:00:00"), toMs: ms("48:00:00"), nowMs: ms("24:00:00"), by: "class" });
    assert.equal(nextDay.total.costMicros, 0n);
    assert.equal(at("24:00:00"), "2026-12-02T00:00:00.000Z");
  });
});

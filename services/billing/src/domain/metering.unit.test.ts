import { describe, it } from "node:test";
import assert from "node:assert/strict";
import type { EasEvent } from "@eas/events";
import { at, log, ms, rates, resources, startedInstance } from "../testing/log.js";
import { computeBill, monthToDateMicros } from "./bill.js";
import { emptyMeter, meterEvent, type MeterState } from "./metering.js";

const meterOf = (events: readonly EasEvent[]): MeterState => events.reduce((state, e) => meterEvent(state, e, 0), emptyMeter());

/** Cost per instance over the whole day, billed at `now`. */
function costs(events: readonly EasEvent[], now = "24:00:00"): Record<string, bigint> {
  const bill = computeBill(meterOf(events), { fromMs: ms("00:00:00"), toMs: ms("48:00:00"), nowMs: ms(now), by: "instance" });
  return Object.fromEntries(bill.lines.map((line) => [line.key, line.usage.costMicros]));
}

const public10 = log.nodeRegistered("n1", "07:00:00", { rates: rates(36_000, 3_600) }); // 1 core 10/s, 1 GiB 1/s
const small = resources(1000, 1024); // 11/s on n1
const spotNode = log.nodeRegistered("n1", "07:00:00", { spot: true, rates: rates(36_000, 3_600) }); // the spot line of the rates file

describe("metering: when an interval opens and closes", () => {
  const cases: { name: string; events: EasEvent[]; now?: string; expected: Record<string, bigint> }[] = [
    {
      name: "opens at InstanceScheduled and closes at InstanceStopped",
      events: [public10, ...startedInstance("a", "s", "n1", "08:00:00", "08:00:30", small), log.stopped("a", "s", "n1", "08:01:40")],
      expected: { a: 100n * 11n },
    },
    {
      name: "Draining does not close it: the resources are held until Stopped",
      events: [
        public10,
        ...startedInstance("a", "s", "n1", "08:00:00", "08:00:30", small),
        log.draining("a", "s", "08:01:00"),
        log.stopped("a", "s", "n1", "08:01:40"),
      ],
      expected: { a: 100n * 11n },
    },
    {
      name: "closes at InstanceFailed",
      events: [public10, log.scheduled("a", "s", "n1", "08:00:00", small), log.failed("a", "s", "08:00:10", "launch failed")],
      expected: { a: 10n * 11n },
    },
    {
      name: "an instance scheduled and never started is billed until it ends",
      events: [public10, log.scheduled("a", "s", "n1", "08:00:00", small), log.stopped("a", "s", "", "08:00:20")],
      expected: { a: 20n * 11n },
    },
    {
      name: "a running instance is billed up to now",
      events: [public10, ...startedInstance("a", "s", "n1", "08:00:00", "08:00:30", small)],
      now: "08:10:00",
      expected: { a: 600n * 11n },
    },
    {
      name: "an instance never scheduled (an agent ran it unasked) reserved nothing and is not billed",
      events: [
        public10,
        log.starting("a", "s", "n1", "08:00:00"),
        log.ready("a", "s", "n1", "08:00:05"),
        log.stopped("a", "s", "n1", "09:00:00"),
      ],
      expected: {},
    },
    {
      name: "a second InstanceScheduled does not open a second interval or move the start",
      events: [
        public10,
        log.scheduled("a", "s", "n1", "08:00:00", small),
        log.scheduled("a", "s", "n1", "08:00:50", small),
        log.stopped("a", "s", "n1", "08:01:40"),
      ],
      expected: { a: 100n * 11n },
    },
    {
      name: "nothing after Stopped counts: a late Failed, Ready or Scheduled of the same id",
      events: [
        public10,
        log.scheduled("a", "s", "n1", "08:00:00", small),
        log.stopped("a", "s", "n1", "08:01:40"),
        log.failed("a", "s", "08:05:00"),
        log.ready("a", "s", "n1", "08:06:00"),
        log.scheduled("a", "s", "n1", "08:07:00", small),
      ],
      now: "09:00:00",
      expected: { a: 100n * 11n },
    },
    {
      name: "InstanceLost does not close it: billed on, its process may still run (only its own end closes it)",
      events: [
        public10,
        log.scheduled("a", "s", "n1", "08:00:00", small),
        log.nodeLost("n1", "08:01:40"),
        log.lost("a", "s", "n1", "08:01:40"),
      ],
      now: "08:10:00",
      expected: { a: 600n * 11n },
    },
    {
      name: "lost, replaced and then stopped by the deployer: the lost one until its Stopped, the replacement from its own Scheduled",
      events: [
        public10,
        ...startedInstance("a", "s", "n1", "08:00:00", "08:00:05", small),
        log.nodeLost("n1", "08:01:40"),
        log.lost("a", "s", "n1", "08:01:40"),
        ...startedInstance("b", "s", "n1", "08:01:41", "08:01:50", small),
        log.draining("a", "s", "08:01:50"),
        log.stopped("a", "s", "", "08:02:00"),
        log.lost("a", "s", "n1", "08:03:00"),
      ],
      now: "08:05:00",
      expected: { a: 120n * 11n, b: 199n * 11n },
    },
    {
      name: "lost and its agent back (Lost -> Ready): the same interval, never a second one",
      events: [
        public10,
        ...startedInstance("a", "s", "n1", "08:00:00", "08:00:05", small),
        log.lost("a", "s", "n1", "08:01:00"),
        log.ready("a", "s", "n1", "08:01:30"),
        log.scheduled("a", "s", "n1", "08:01:30", small),
        log.stopped("a", "s", "n1", "08:05:00"),
      ],
      now: "09:00:00",
      expected: { a: 300n * 11n },
    },
    {
      name: "a reclaim notice moves nothing by itself: drained before the deadline, billed to its Stopped",
      events: [
        spotNode,
        ...startedInstance("a", "s", "n1", "08:00:00", "08:00:05", small, { spot: true }),
        log.reclaimNoticed("n1", "08:00:30", "08:01:00"),
        log.moveForReclaim("a", "s", "n1", "08:00:30", "08:01:00"),
        log.draining("a", "s", "08:00:40"),
        log.stopped("a", "s", "n1", "08:00:50"),
        log.reclaimed("n1", "08:01:00"),
      ],
      now: "09:00:00",
      expected: { a: 50n * 11n },
    },
    {
      name: "still on the node at the reclaim: billed to the deadline, the `at` of its InstanceFailed, not to when it was written",
      events: [
        spotNode,
        ...startedInstance("a", "s", "n1", "08:00:00", "08:00:05", small, { spot: true }),
        log.reclaimNoticed("n1", "08:00:30", "08:01:00"),
        log.moveForReclaim("a", "s", "n1", "08:00:30", "08:01:00"),
        log.reclaimed("n1", "08:01:00"),
        log.failed("a", "s", "08:01:00", "node n1 reclaimed"),
        log.stopped("a", "s", "n1", "08:01:07"),
      ],
      now: "09:00:00",
      expected: { a: 60n * 11n },
    },
    {
      name: "NodeReclaimed alone does not close an instance: only the instance's own end does",
      events: [
        spotNode,
        ...startedInstance("a", "s", "n1", "08:00:00", "08:00:05", small, { spot: true }),
        log.reclaimed("n1", "08:01:00"),
      ],
      now: "08:02:00",
      expected: { a: 120n * 11n },
    },
    {
      name: "priced at the rates its node had when it was scheduled, not at a later registration's",
      events: [
        public10,
        log.scheduled("a", "s", "n1", "08:00:00", small),
        log.nodeRegistered("n1", "08:00:30", { rates: rates(72_000, 7_200) }),
        log.scheduled("b", "s", "n1", "08:00:40", small),
        log.stopped("a", "s", "n1", "08:01:40"),
        log.stopped("b", "s", "n1", "08:01:40"),
      ],
      expected: { a: 100n * 11n, b: 60n * 22n },
    },
    {
      name: "a stop stamped before the placement (clocks of two writers) bills nothing, not a negative",
      events: [public10, log.scheduled("a", "s", "n1", "08:00:00", small), log.stopped("a", "s", "n1", "07:59:58")],
      expected: { a: 0n },
    },
    {
      name: "a node that registered no rates, or never registered, is free",
      events: [
        log.nodeRegistered("n0", "07:00:00", {}),
        log.scheduled("a", "s", "n0", "08:00:00", small),
        log.scheduled("b", "s", "nx", "08:00:00", small),
      ],
      now: "09:00:00",
      expected: { a: 0n, b: 0n },
    },
  ];
  for (const { name, events, now, expected } of cases) {
    it(name, () => {
      const billed = costs(events, now);
      // An instance billed 0 for 0 ms has no line; compare what was billed.
      assert.deepEqual(
        Object.fromEntries(Object.entries(billed).filter(([, cost]) => cost > 0n)),
        Object.fromEntries(Object.entries(expected).filter(([, cost]) => cost > 0n)),
      );
    });
  }
});

describe("metering: class of capacity", () => {
  const cases: [string, { pool?: string; spot?: boolean }, string][] = [
    ["the public pool", { pool: "public" }, "public"],
    ["a dedicated group", { pool: "dedicated" }, "dedicated"],
    ["spot in the public pool", { pool: "public", spot: true }, "spot"],
    ["spot in a dedicated group", { pool: "dedicated", spot: true }, "spot"],
  ];
  for (const [where, placement, capacityClass] of cases) {
    it(`an instance placed in ${where} is billed as ${capacityClass}`, () => {
      const meter = meterOf([public10, log.scheduled("a", "s", "n1", "08:00:00", small, placement)]);
      assert.equal(meter.intervals.a?.capacityClass, capacityClass);
    });
  }
});

describe("metering: money", () => {
  // 1 core at 40,000/core-h and 1 GiB at 5,000/GiB-h: 45,000/h = 12.5/s.
  const events = (seconds: number) => [
    log.nodeRegistered("n1", "07:00:00", { rates: rates(40_000, 5_000) }),
    log.scheduled("a", "s", "n1", "08:00:00", small),
    log.stopped("a", "s", "n1", at(`08:00:${String(seconds).padStart(2, "0")}`).slice(11, 19)),
  ];
  const cases: [number, bigint][] = [
    [1, 13n], // 12.5 rounds half up
    [2, 25n],
    [3, 38n], // 37.5
    [59, 738n], // 737.5
  ];
  for (const [seconds, micros] of cases) {
    it(`${seconds} s of 45,000 micro-units per hour is ${micros}, rounded half up`, () => {
      assert.deepEqual(costs(events(seconds)), { a: micros });
    });
  }

  it("rounds each UTC hour of an interval on its own, so every grouping adds up to the same total", () => {
    // 10:59:59 to 11:00:01: one second in each hour, 12.5 each: 13 + 13.
    const meter = meterOf([
      log.nodeRegistered("n1", "07:00:00", { rates: rates(40_000, 5_000) }),
      log.scheduled("a", "s", "n1", "10:59:59", small),
      log.stopped("a", "s", "n1", "11:00:01"),
    ]);
    const range = { fromMs: ms("00:00:00"), toMs: ms("24:00:00"), nowMs: ms("24:00:00") };
    const byHour = computeBill(meter, { ...range, by: "hour" });
    assert.deepEqual(
      byHour.lines.map((line) => [new Date(Number(line.key)).toISOString(), line.usage.costMicros]),
      [
        [at("10:00:00"), 13n],
        [at("11:00:00"), 13n],
      ],
    );
    assert.equal(computeBill(meter, { ...range, by: "class" }).total.costMicros, 26n);
    assert.equal(computeBill(meter, { ...range, by: "instance" }).total.costMicros, 26n);
  });

  it("stays exact where a float would not: a GPU node at 8 GPUs for a month", () => {
    const meter = meterOf([
      log.nodeRegistered("g", "07:00:00", { rates: rates(1, 1, 3_333_333) }),
      log.scheduled("a", "s", "g", "00:00:00", resources(96_000, 786_432, 8)),
    ]);
    const now = Date.parse("2026-12-31T00:00:00Z");
    const bill = computeBill(meter, { fromMs: ms("00:00:00"), toMs: now, nowMs: now, by: "class" });
    // 30 days x 24 h x (8 x 3,333,333 + 96 cores x 1 + 768 GiB x 1) = 720 x 26,667,528
    assert.equal(bill.total.costMicros, 720n * 26_667_528n);
  });
});

describe("metering: ranges", () => {
  const events = [public10, log.scheduled("a", "s", "n1", "08:00:00", small), log.stopped("a", "s", "n1", "10:00:00")];
  const bill = (from: string, to: string, now = "24:00:00") =>
    computeBill(meterOf(events), { fromMs: ms(from), toMs: ms(to), nowMs: ms(now), by: "class" }).total.costMicros;

  it("bills only the part of an interval inside [from, to)", () => {
    assert.equal(bill("09:00:00", "09:30:00"), 1800n * 11n);
    assert.equal(bill("07:00:00", "08:00:00"), 0n);
    assert.equal(bill("09:59:59", "12:00:00"), 11n);
  });

  it("bills nothing past now, even when to is later", () => {
    assert.equal(bill("08:00:00", "24:00:00", "08:00:10"), 110n);
  });

  it("counts the month so far for budgets", () => {
    assert.equal(monthToDateMicros(meterOf(events), "s", ms("09:00:00")), 3600n * 11n);
    assert.equal(monthToDateMicros(meterOf(events), "other", ms("09:00:00")), 0n);
  });
});

describe("metering: buckets of a long interval", () => {
  // 22:30 on day 1 to 02:15 on day 3: 1.5 h + 24 h + 2.25 h at 11/s.
  const meter = meterOf([public10, log.scheduled("a", "s", "n1", "22:30:00", small), log.stopped("a", "s", "n1", "50:15:00")]);
  const range = { fromMs: ms("00:00:00"), toMs: ms("72:00:00"), nowMs: ms("72:00:00") };

  it("cuts it by UTC day", () => {
    const lines = computeBill(meter, { ...range, by: "day" }).lines;
    assert.deepEqual(
      lines.map((l) => [new Date(Number(l.key)).toISOString(), l.usage.costMicros, l.usage.instanceMs]),
      [
        [at("00:00:00"), 5_400n * 11n, 5_400_000n],
        [at("24:00:00"), 86_400n * 11n, 86_400_000n],
        [at("48:00:00"), 8_100n * 11n, 8_100_000n],
      ],
    );
  });

  it("cuts it by UTC hour: 2 + 24 + 3 hours, each whole one the same", () => {
    const lines = computeBill(meter, { ...range, by: "hour" }).lines;
    assert.equal(lines.length, 29);
    assert.deepEqual(lines[0]!.usage.costMicros, 1_800n * 11n);
    assert.ok(lines.slice(1, 28).every((l) => l.usage.costMicros === 3_600n * 11n));
    assert.deepEqual(lines[28]!.usage.costMicros, 900n * 11n);
    assert.equal(
      lines.reduce((sum, l) => sum + l.usage.costMicros, 0n),
      computeBill(meter, { ...range, by: "class" }).total.costMicros,
    );
  });
});

import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { pickLeastOutstanding, type BalancedInstance } from "./balancer.js";

interface Named extends BalancedInstance {
  name: string;
  /** The test keeps the counts itself. */
  outstanding: number;
}
const instance = (name: string, outstanding: number, ejectedUntil = 0): Named => ({ name, outstanding, ejectedUntil });

describe("pickLeastOutstanding", () => {
  const table: { title: string; instances: Named[]; max: number; now?: number; expect: string | undefined }[] = [
    { title: "no instances", instances: [], max: 0, expect: undefined },
    { title: "the one with fewest outstanding", instances: [instance("a", 3), instance("b", 1), instance("c", 2)], max: 0, expect: "b" },
    {
      title: "skips instances at the concurrency limit",
      instances: [instance("a", 2), instance("b", 2), instance("c", 1)],
      max: 2,
      expect: "c",
    },
    { title: "none when all are at the limit", instances: [instance("a", 2), instance("b", 2)], max: 2, expect: undefined },
    { title: "unlimited when max is 0", instances: [instance("a", 1000)], max: 0, expect: "a" },
    { title: "skips an ejected instance even if idle", instances: [instance("a", 0, 100), instance("b", 5)], max: 0, now: 50, expect: "b" },
    {
      title: "an ejection that has expired no longer counts",
      instances: [instance("a", 0, 100), instance("b", 5)],
      max: 0,
      now: 150,
      expect: "a",
    },
    {
      title: "waits rather than use an ejected one while a healthy one is busy",
      instances: [instance("a", 0, 100), instance("b", 1)],
      max: 1,
      now: 50,
      expect: undefined,
    },
    {
      title: "probes ejected instances when all are ejected",
      instances: [instance("a", 3, 100), instance("b", 1, 100)],
      max: 0,
      now: 50,
      expect: "b",
    },
  ];
  for (const row of table) {
    it(row.title, () => {
      assert.equal(pickLeastOutstanding(row.instances, row.max, row.now ?? 0, 0)?.name, row.expect);
    });
  }

  it("breaks ties in turn as the start offset rotates", () => {
    const instances = [instance("a", 0), instance("b", 0), instance("c", 0)];
    const picks = [0, 1, 2, 3].map((start) => pickLeastOutstanding(instances, 0, 0, start)?.name);
    assert.deepEqual(picks, ["a", "b", "c", "a"]);
  });

  it("excludes the instance that just failed", () => {
    const a = instance("a", 0);
    const b = instance("b", 4);
    assert.equal(pickLeastOutstanding([a, b], 0, 0, 0, a)?.name, "b");
    assert.equal(pickLeastOutstanding([a], 0, 0, 0, a), undefined);
  });

  it("spreads a stream of long requests evenly when counts are kept", () => {
    const instances = [instance("a", 0), instance("b", 0), instance("c", 0)];
    for (let k = 0; k < 30; k++) pickLeastOutstanding(instances, 0, 0, k)!.outstanding++;
    assert.deepEqual(
      instances.map((i) => i.outstanding),
      [10, 10, 10],
    );
  });
});

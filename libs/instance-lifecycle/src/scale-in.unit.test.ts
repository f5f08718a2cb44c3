import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { InstancePhase } from "./phase.js";
import { scaleInOrder, type ScaleInCandidate } from "./scale-in.js";

const at = (second: number) => `2026-12-01T10:00:${String(second).padStart(2, "0")}.000Z`;
const candidate = (instanceId: string, pool: string, spot: boolean, ready: boolean, scheduledSecond = 10): ScaleInCandidate => ({
  instanceId,
  pool,
  spot,
  phase: ready ? InstancePhase.Ready : InstancePhase.Starting,
  scheduledAt: at(scheduledSecond),
});

const ids = (instances: ScaleInCandidate[]) => instances.map((i) => i.instanceId);

describe("scaleInOrder", () => {
  it("gives up public before dedicated, spot before on-demand, not Ready before Ready, newest before oldest", () => {
    const all = [
      candidate("ded", "dedicated", false, true),
      candidate("ded-old", "dedicated", false, true, 1),
      candidate("ded-unready", "dedicated", false, false),
      candidate("ded-spot", "dedicated", true, true),
      candidate("pub", "public", false, true),
      candidate("pub-spot", "public", true, true),
      candidate("pub-unready", "public", false, false),
    ];
    assert.deepEqual(ids(scaleInOrder(all)), ["pub-spot", "pub-unready", "pub", "ded-spot", "ded-unready", "ded", "ded-old"]);
  });

  const rows: [string, ScaleInCandidate[], string[]][] = [
    [
      "public pool first, even when older and Ready",
      [candidate("d", "dedicated", false, false, 50), candidate("p", "public", false, true, 1)],
      ["p", "d"],
    ],
    ["spot before on-demand within a pool", [candidate("od", "public", false, false), candidate("sp", "public", true, true)], ["sp", "od"]],
    ["exact ties by id", [candidate("b", "public", false, true), candidate("a", "public", false, true)], ["a", "b"]],
    ["nothing", [], []],
  ];
  for (const [what, instances, expected] of rows) {
    it(what, () => assert.deepEqual(ids(scaleInOrder(instances)), expected));
  }

  it("does not modify its input", () => {
    const input = [candidate("a", "dedicated", false, true), candidate("b", "public", false, true)];
    const copy = [...input];
    scaleInOrder(input);
    assert.deepEqual(input, copy);
  });
});

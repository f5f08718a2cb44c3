import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { ClusterEventType } from "../nodes/index.js";
import { T0, clusterFrom, iso, registered, scheduled } from "../nodes/fixtures.js";
import { chooseScaleInVictims, type ScaleInCandidate } from "./scale-in.js";

const cluster = clusterFrom([
  registered({ id: "ded", group: "team" }),
  registered({ id: "ded-spot", group: "team", spot: true }),
  registered({ id: "pub" }),
  registered({ id: "pub-spot", spot: true }),
  registered({ id: "drained", group: "team" }),
  scheduled("on-ded", "svc", "ded", {}, { pool: "dedicated" }),
  scheduled("on-ded-old", "svc", "ded", {}, { pool: "dedicated" }),
  scheduled("on-ded-unready", "svc", "ded", {}, { pool: "dedicated" }),
  scheduled("on-ded-spot", "svc", "ded-spot", {}, { pool: "dedicated", spot: true }),
  scheduled("on-pub", "svc", "pub", {}, { pool: "public" }),
  scheduled("on-pub-spot", "svc", "pub-spot", {}, { pool: "public", spot: true }),
  scheduled("on-drained", "svc", "drained", {}, { pool: "dedicated" }),
  { type: ClusterEventType.NodeCordoned, data: { nodeId: "drained", reason: "drain", at: iso(T0 + 1) } },
]);

const candidate = (instanceId: string, ready = true, createdAt = T0 + 100): ScaleInCandidate => ({ instanceId, ready, createdAt });

const all: ScaleInCandidate[] = [
  candidate("on-ded"),
  candidate("on-ded-old", true, T0),
  candidate("on-ded-unready", false),
  candidate("on-ded-spot"),
  candidate("on-pub"),
  candidate("on-pub-spot"),
  candidate("on-drained"),
  candidate("pending", false),
];

describe("chooseScaleInVictims", () => {
  it("orders: pending, not-Ready node, public spot, public, dedicated spot, not ready, newest", () => {
    assert.deepEqual(chooseScaleInVictims(all, all.length, cluster), [
      "pending",
      "on-drained",
      "on-pub-spot",
      "on-pub",
      "on-ded-spot",
      "on-ded-unready",
      "on-ded",
      "on-ded-old",
    ]);
  });

  const rows: Array<[string, number, string[]]> = [
    ["none", 0, []],
    ["negative count", -2, []],
    ["fractional count rounds down", 1.9, ["pending"]],
    [
      "more than there are",
      50,
      ["pending", "on-drained", "on-pub-spot", "on-pub", "on-ded-spot", "on-ded-unready", "on-ded", "on-ded-old"],
    ],
  ];
  for (const [what, count, expected] of rows) {
    it(`count: ${what}`, () => assert.deepEqual(chooseScaleInVictims(all, count, cluster), expected));
  }

  it("removes public-pool instances before dedicated ones (EAS elastic pool)", () => {
    const some = [candidate("on-ded"), candidate("on-pub")];
    assert.deepEqual(chooseScaleInVictims(some, 1, cluster), ["on-pub"]);
  });

  it("among equals, removes the newest first and breaks exact ties by id", () => {
    const some = [candidate("on-ded", true, T0 + 1), candidate("on-ded-old", true, T0 + 2)];
    assert.deepEqual(chooseScaleInVictims(some, 2, cluster), ["on-ded-old", "on-ded"]);
    const same = [candidate("on-ded-old", true, T0), candidate("on-ded", true, T0)];
    assert.deepEqual(chooseScaleInVictims(same, 2, cluster), ["on-ded", "on-ded-old"]);
  });

  it("does not modify its input", () => {
    const copy = [...all];
    chooseScaleInVictims(all, 3, cluster);
    assert.deepEqual(all, copy);
  });
});

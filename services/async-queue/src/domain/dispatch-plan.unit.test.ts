import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { freeSlots, MAX_PULL, pickInstance, pullSizes } from "./dispatch-plan.js";

const instance = (id: string, inFlight: number, concurrency = 2, ejected = false) => ({ id, inFlight, concurrency, ejected });

describe("dispatch planning", () => {
  it("counts free slots as each instance's concurrency less what it runs", () => {
    assert.equal(freeSlots([instance("a", 0), instance("b", 1), instance("c", 2)]), 3);
    assert.equal(freeSlots([]), 0);
    assert.equal(freeSlots([instance("a", 3)]), 0);
  });

  it("picks the instance with the fewest requests in flight, never a full one", () => {
    assert.equal(pickInstance([instance("a", 1), instance("b", 0), instance("c", 1)], 0)?.id, "b");
    assert.equal(pickInstance([instance("a", 2), instance("b", 2)], 0), undefined);
    assert.equal(pickInstance([instance("a", 2, 2), instance("b", 3, 4)], 0)?.id, "b");
  });

  it("sends to an ejected instance only when no other has a free slot", () => {
    assert.equal(pickInstance([instance("a", 0, 2, true), instance("b", 1)], 0)?.id, "b");
    assert.equal(pickInstance([instance("a", 0, 2, true), instance("b", 2)], 0)?.id, "a");
  });

  it("takes turns between equally loaded instances", () => {
    const all = [instance("a", 0), instance("b", 0), instance("c", 0)];
    assert.deepEqual(
      [0, 1, 2, 3].map((rotation) => pickInstance(all, rotation)?.id),
      ["a", "b", "c", "a"],
    );
  });

  it("pulls what the free slots can take beyond the requests waiting, from each consumer without a pull out", () => {
    assert.deepEqual(pullSizes(10, 8, 3, { priority: false, normal: false }), { priority: 5, normal: 5 });
    assert.deepEqual(pullSizes(10, 8, 3, { priority: true, normal: false }), { priority: 0, normal: 5 });
    assert.deepEqual(pullSizes(20_000, 10_000, 0, { priority: false, normal: true }), { priority: MAX_PULL, normal: 0 });
  });

  it("keeps one priority pull out while every slot is taken, and pulls nothing without instances", () => {
    assert.deepEqual(pullSizes(4, 4, 4, { priority: false, normal: false }), { priority: 1, normal: 0 });
    assert.deepEqual(pullSizes(4, 0, 0, { priority: false, normal: false }), { priority: 1, normal: 0 });
    assert.deepEqual(pullSizes(0, 0, 0, { priority: false, normal: false }), { priority: 0, normal: 0 });
  });
});

import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { mulberry32 } from "@eas/testing";
import { WeightedDraw } from "./weighted-draw.js";

function counts(draw: WeightedDraw, weights: number[], draws: number): number[] {
  const seen = weights.map(() => 0);
  for (let k = 0; k < draws; k++) seen[draw.draw(weights)]!++;
  return seen;
}

describe("WeightedDraw", () => {
  it("draws each choice exactly its weight in every full deck", () => {
    for (const weights of [
      [90, 10],
      [50, 50],
      [1, 99],
      [3, 2, 5],
      [7, 0, 1],
    ]) {
      const deck = weights.reduce((a, b) => a + b, 0);
      const draw = new WeightedDraw(mulberry32(7));
      assert.deepEqual(
        counts(draw, weights, deck * 50),
        weights.map((w) => w * 50),
        `weights ${weights.join("/")}`,
      );
    }
  });

  it("never strays from the share by more than one deck, whatever the number of draws", () => {
    const draw = new WeightedDraw(mulberry32(3));
    const weights = [90, 10];
    let canary = 0;
    for (let k = 1; k <= 5_000; k++) {
      if (draw.draw(weights) === 1) canary++;
      assert.ok(Math.abs(canary - k / 10) <= 10, `after ${k} draws: ${canary}`);
    }
  });

  it("orders each deck at random: two seeds give two sequences with the same counts", () => {
    const sequence = (seed: number) =>
      Array.from(
        { length: 100 },
        (
          (draw) => () =>
            draw.draw([90, 10])
        )(new WeightedDraw(mulberry32(seed))),
      );
    const a = sequence(1);
    const b = sequence(2);
    assert.notDeepEqual(a, b);
    assert.equal(a.filter((i) => i === 1).length, 10);
    assert.equal(b.filter((i) => i === 1).length, 10);
  });

  it("a choice of weight 0 is never drawn, and new weights start a new deck", () => {
    const draw = new WeightedDraw(mulberry32(5));
    for (let k = 0; k < 5; k++) draw.draw([90, 10]);
    assert.deepEqual(counts(draw, [100, 0], 300), [300, 0]);
    assert.deepEqual(counts(draw, [0, 100], 300), [0, 300]);
  });

  it("answers -1 when every weight is 0", () => {
    assert.equal(new WeightedDraw().draw([0, 0]), -1);
    assert.equal(new WeightedDraw().draw([]), -1);
  });
});

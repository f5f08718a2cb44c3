import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { fitStandardizer, parseLabelledCsv, standardize, stratifiedSplit } from "./dataset.js";
import { mulberry32, shuffled } from "./prng.js";
import {
  accuracy,
  argmax,
  lossAndGradient,
  predictProbabilities,
  softmax,
  trainSoftmaxRegression,
  type LinearParams,
} from "./softmax-regression.js";

/** Three well-separated clusters in 2-D: a linear classifier must get all of them right. */
const SEPARABLE_ROWS = [
  [0, 0],
  [0.2, 0.1],
  [-0.1, 0.3],
  [5, 5],
  [5.2, 4.8],
  [4.9, 5.3],
  [-5, 5],
  [-4.8, 5.1],
  [-5.3, 4.7],
];
const SEPARABLE_LABELS = [0, 0, 0, 1, 1, 1, 2, 2, 2];

describe("softmax", () => {
  it("gives probabilities summing to 1, ordered like the logits", () => {
    const probs = softmax([1, 2, 3]);
    assert.ok(Math.abs(probs.reduce((a, b) => a + b, 0) - 1) < 1e-12);
    assert.ok((probs[0] as number) < (probs[1] as number) && (probs[1] as number) < (probs[2] as number));
  });

  it("is stable for huge logits", () => {
    const probs = softmax([1000, 1001]);
    assert.ok(probs.every(Number.isFinite));
    assert.ok(Math.abs((probs[1] as number) - 1 / (1 + Math.exp(-1))) < 1e-12);
  });
});

describe("lossAndGradient", () => {
  it("matches a finite-difference gradient", () => {
    // Given arbitrary parameters and data
    const params: LinearParams = {
      weights: [
        [0.3, -0.2, 0.1],
        [-0.4, 0.5, 0.05],
      ],
      bias: [0.1, -0.1, 0.2],
    };
    const rows = SEPARABLE_ROWS.map((row) => row.map((value) => value / 5));
    const l2 = 0.01;
    // When the analytic gradient is computed
    const { gradWeights, gradBias } = lossAndGradient(params, rows, SEPARABLE_LABELS, l2);
    // Then every component agrees with a central difference
    const h = 1e-6;
    const lossWith = (change: (p: { weights: number[][]; bias: number[] }) => void): number => {
      const copy = { weights: params.weights.map((row) => [...row]), bias: [...params.bias] };
      change(copy);
      return lossAndGradient(copy, rows, SEPARABLE_LABELS, l2).loss;
    };
    params.weights.forEach((row, j) =>
      row.forEach((_, k) => {
        const numeric =
          (lossWith((p) => ((p.weights[j] as number[])[k] = (p.weights[j]?.[k] ?? 0) + h)) -
            lossWith((p) => ((p.weights[j] as number[])[k] = (p.weights[j]?.[k] ?? 0) - h))) /
          (2 * h);
        assert.ok(Math.abs(numeric - (gradWeights[j]?.[k] ?? NaN)) < 1e-6, `dW[${j}][${k}]`);
      }),
    );
    params.bias.forEach((_, k) => {
      const numeric = (lossWith((p) => (p.bias[k] = (p.bias[k] ?? 0) + h)) - lossWith((p) => (p.bias[k] = (p.bias[k] ?? 0) - h))) / (2 * h);
      assert.ok(Math.abs(numeric - (gradBias[k] ?? NaN)) < 1e-6, `db[${k}]`);
    });
  });

  it("is log(classes) for zero parameters", () => {
    const zero = { weights: [new Array(3).fill(0), new Array(3).fill(0)], bias: [0, 0, 0] };
    assert.ok(Math.abs(lossAndGradient(zero, SEPARABLE_ROWS, SEPARABLE_LABELS, 0).loss - Math.log(3)) < 1e-12);
  });
});

describe("trainSoftmaxRegression", () => {
  it("separates a tiny separable set perfectly, with a decreasing loss", () => {
    // Given three separable clusters
    // When trained
    const { params, losses } = trainSoftmaxRegression(SEPARABLE_ROWS, SEPARABLE_LABELS, 3, {
      epochs: 300,
      learningRate: 0.1,
      l2: 0,
    });
    // Then every training point is classified right, confidently
    const probabilities = predictProbabilities(params, SEPARABLE_ROWS);
    assert.equal(accuracy(probabilities, SEPARABLE_LABELS), 1);
    probabilities.forEach((row, i) => assert.ok((row[SEPARABLE_LABELS[i] as number] as number) > 0.9, `row ${i}: ${row}`));
    // And full-batch descent on a convex loss with a small step never goes up
    for (let i = 1; i < losses.length; i += 1) assert.ok((losses[i] as number) <= (losses[i - 1] as number) + 1e-12);
    assert.ok((losses.at(-1) as number) < 0.1 * (losses[0] as number));
    // And unseen points near the clusters are classified by cluster
    assert.deepEqual(
      predictProbabilities(params, [
        [0.1, -0.2],
        [6, 6],
        [-6, 6],
      ]).map(argmax),
      [0, 1, 2],
    );
  });

  it("is deterministic", () => {
    const options = { epochs: 50, learningRate: 0.1, l2: 0.01 };
    assert.deepEqual(
      trainSoftmaxRegression(SEPARABLE_ROWS, SEPARABLE_LABELS, 3, options),
      trainSoftmaxRegression(SEPARABLE_ROWS, SEPARABLE_LABELS, 3, options),
    );
  });
});

describe("data preparation", () => {
  it("mulberry32 repeats for a seed and differs across seeds", () => {
    const draw = (seed: number) => Array.from({ length: 5 }, mulberry32(seed));
    assert.deepEqual(draw(7), draw(7));
    assert.notDeepEqual(draw(7), draw(8));
    assert.ok(draw(7).every((value) => value >= 0 && value < 1));
  });

  it("shuffled permutes without losing items", () => {
    const items = Array.from({ length: 20 }, (_, i) => i);
    const out = shuffled(items, mulberry32(1));
    assert.notDeepEqual(out, items);
    assert.deepEqual(
      [...out].sort((a, b) => a - b),
      items,
    );
  });

  it("stratifiedSplit keeps class proportions and is reproducible", () => {
    const labels = [...new Array(50).fill(0), ...new Array(50).fill(1), ...new Array(50).fill(2)] as number[];
    const split = stratifiedSplit(labels, 0.2, mulberry32(3));
    assert.equal(split.test.length, 30);
    assert.equal(split.train.length, 120);
    for (const label of [0, 1, 2]) assert.equal(split.test.filter((i) => labels[i] === label).length, 10);
    assert.deepEqual(new Set([...split.train, ...split.test]).size, 150);
    assert.deepEqual(stratifiedSplit(labels, 0.2, mulberry32(3)), split);
    assert.notDeepEqual(stratifiedSplit(labels, 0.2, mulberry32(4)).test, split.test);
  });

  it("standardizes to zero mean and unit variance, leaving constant features alone", () => {
    const rows = [
      [1, 10, 7],
      [2, 20, 7],
      [3, 60, 7],
    ];
    const standardizer = fitStandardizer(rows);
    assert.equal(standardizer.std[2], 1);
    const out = standardize(rows, standardizer);
    for (const j of [0, 1]) {
      const column = out.map((row) => row[j] as number);
      assert.ok(Math.abs(column.reduce((a, b) => a + b, 0)) < 1e-12);
      assert.ok(Math.abs(column.reduce((a, b) => a + b * b, 0) / 3 - 1) < 1e-12);
    }
  });

  it("parses a labelled CSV, numbering classes by first appearance", () => {
    const data = parseLabelledCsv("a,b,kind\n1,2,x\n3,4,y\n5,6,x\n");
    assert.deepEqual(data, {
      featureNames: ["a", "b"],
      classes: ["x", "y"],
      rows: [
        [1, 2],
        [3, 4],
        [5, 6],
      ],
      labels: [0, 1, 0],
    });
    assert.throws(() => parseLabelledCsv("a,kind\n1,x\nnope,y\n"), /line 3: feature is not a number/);
    assert.throws(() => parseLabelledCsv("a,kind\n1\n"), /line 2: expected 2 cells/);
  });
});

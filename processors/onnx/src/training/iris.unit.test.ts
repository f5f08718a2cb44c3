import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { readOnnxModelInfo } from "../onnx-metadata.js";
import { trainIris } from "./iris.js";

const demo = (name: string): string => fileURLToPath(new URL(`../../demo/${name}`, import.meta.url));

describe("the Iris demo", () => {
  const csv = readFileSync(demo("iris.csv"), "utf8");
  const training = trainIris(csv);

  it("ships Fisher's 150 rows, 50 per class", () => {
    assert.equal(training.dataset.rows.length, 150);
    assert.deepEqual(training.dataset.classes, ["setosa", "versicolor", "virginica"]);
    for (const label of [0, 1, 2]) assert.equal(training.dataset.labels.filter((l) => l === label).length, 50);
    // Published per-class means (cm) of Fisher's data, a check against typos in the CSV.
    const means = [0, 1, 2].map((label) => {
      const rows = training.dataset.rows.filter((_, i) => training.dataset.labels[i] === label);
      return [0, 1, 2, 3].map((j) => Math.round((rows.reduce((s, row) => s + (row[j] ?? 0), 0) / 50) * 1000) / 1000);
    });
    assert.deepEqual(means, [
      [5.006, 3.428, 1.462, 0.246],
      [5.936, 2.77, 4.26, 1.326],
      [6.588, 2.974, 5.552, 2.026],
    ]);
  });

  it("splits 120/30, stratified", () => {
    assert.equal(training.split.train.length, 120);
    assert.equal(training.split.test.length, 30);
    for (const label of [0, 1, 2]) {
      assert.equal(training.split.test.filter((i) => training.dataset.labels[i] === label).length, 10);
    }
  });

  it("reproduces the checked-in model and metrics byte for byte", () => {
    assert.deepEqual(Buffer.from(training.onnx), readFileSync(demo("iris.onnx")));
    assert.equal(`${JSON.stringify(training.metrics, null, 2)}\n`, readFileSync(demo("metrics.json"), "utf8"));
  });

  it("stores the class names in the model metadata", () => {
    const info = readOnnxModelInfo(training.onnx);
    assert.equal(info.producerName, "eas-train-iris");
    assert.equal(info.irVersion, 8);
    assert.deepEqual(JSON.parse(info.metadataProps.classes ?? "null"), ["setosa", "versicolor", "virginica"]);
    assert.deepEqual(JSON.parse(info.metadataProps.features ?? "null"), training.dataset.featureNames);
  });

  it("learns: at least 0.9 accuracy on train and test", () => {
    assert.ok(training.metrics.train_accuracy >= 0.9, `train ${training.metrics.train_accuracy}`);
    assert.ok(training.metrics.test_accuracy >= 0.9, `test ${training.metrics.test_accuracy}`);
  });
});

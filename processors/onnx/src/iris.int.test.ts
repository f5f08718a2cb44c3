/**
 * The demo model end to end: run the real training script, serve what it exported through
 * the real onnx server (onnxruntime-node), and check the served accuracy on the recorded
 * test split through both HTTP APIs against what the script printed and recorded.
 */
import { describe, it, before, after } from "node:test";
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { createOnnxServer, type OnnxServer } from "./server.js";
import { parseLabelledCsv, stratifiedSplit, type Dataset } from "./training/dataset.js";
import { IRIS_TRAINING, type IrisMetrics } from "./training/iris.js";
import { mulberry32 } from "./training/prng.js";

const DEMO = fileURLToPath(new URL("../demo/", import.meta.url));
const run = promisify(execFile);

interface ScriptRun {
  readonly printed: { trainCorrect: number; testCorrect: number; testAccuracy: number };
  readonly metrics: IrisMetrics;
  readonly modelFile: string;
}

describe("Iris demo model served by the onnx processor", () => {
  let outDir: string;
  let script: ScriptRun;
  let dataset: Dataset;
  let server: OnnxServer;
  let base: string;

  before(async () => {
    outDir = await mkdtemp(join(tmpdir(), "eas-iris-"));
    const { stdout } = await run(
      process.execPath,
      ["--conditions=source", "--import", "tsx", join(DEMO, "train-iris.ts"), "--out", outDir],
      { timeout: 60_000 },
    );
    const train = /train accuracy: [\d.]+ \((\d+)\/120\)/.exec(stdout);
    const test = /test accuracy:\s+([\d.]+) \((\d+)\/30\)/.exec(stdout);
    assert.ok(train !== null && test !== null, `unexpected script output:\n${stdout}`);
    script = {
      printed: { trainCorrect: Number(train[1]), testAccuracy: Number(test[1]), testCorrect: Number(test[2]) },
      metrics: JSON.parse(await readFile(join(outDir, "metrics.json"), "utf8")) as IrisMetrics,
      modelFile: join(outDir, "iris.onnx"),
    };
    dataset = parseLabelledCsv(await readFile(join(DEMO, "iris.csv"), "utf8"));
    server = createOnnxServer({ modelPath: script.modelFile, modelName: "iris" });
    const { port } = await server.listen(0, "127.0.0.1");
    base = `http://127.0.0.1:${port}`;
  });

  after(async () => {
    await server?.close();
    if (outDir !== undefined) await rm(outDir, { recursive: true, force: true });
  });

  const rowsOf = (indices: readonly number[]) => indices.map((i) => dataset.rows[i] as readonly number[]);
  const classOf = (i: number) => dataset.classes[dataset.labels[i] as number];

  async function postJson(path: string, body: unknown): Promise<{ status: number; body: unknown }> {
    const res = await fetch(`${base}${path}`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify(body),
      signal: AbortSignal.timeout(10_000),
    });
    return { status: res.status, body: await res.json() };
  }

  async function inferV2(indices: readonly number[], nested: boolean): Promise<number[][]> {
    const rows = rowsOf(indices);
    const { status, body } = await postJson("/v2/models/iris/infer", {
      id: "iris-eval",
      inputs: [{ name: "input", shape: [rows.length, 4], datatype: "FP32", data: nested ? rows : rows.flat() }],
    });
    assert.equal(status, 200, JSON.stringify(body));
    const response = body as {
      model_name: string;
      id: string;
      outputs: Array<{ name: string; datatype: string; shape: number[]; data: number[] }>;
    };
    assert.equal(response.model_name, "iris");
    assert.equal(response.id, "iris-eval");
    const [output] = response.outputs;
    assert.equal(output?.name, "probabilities");
    assert.equal(output?.datatype, "FP32");
    assert.deepEqual(output?.shape, [rows.length, 3]);
    return rows.map((_, i) => output?.data.slice(i * 3, i * 3 + 3) ?? []);
  }

  const argmax = (values: readonly number[]) => values.indexOf(Math.max(...values));

  it("the script records the same seeded, stratified test split the tests recompute", () => {
    const split = stratifiedSplit(dataset.labels, IRIS_TRAINING.testFraction, mulberry32(IRIS_TRAINING.seed));
    assert.deepEqual(script.metrics.test_indices, split.test);
    assert.equal(script.metrics.test_size, 30);
    assert.equal(script.metrics.train_size, 120);
  });

  it("the script prints what it records, and regenerates the checked-in model", async () => {
    assert.equal(script.printed.testCorrect, script.metrics.test_correct);
    assert.equal(script.printed.trainCorrect, script.metrics.train_correct);
    assert.equal(script.printed.testAccuracy, script.metrics.test_accuracy);
    assert.deepEqual(await readFile(script.modelFile), await readFile(join(DEMO, "iris.onnx")));
  });

  it("describes the model over the v2 metadata API", async () => {
    const res = await fetch(`${base}/v2/models/iris`, { signal: AbortSignal.timeout(5_000) });
    assert.deepEqual(await res.json(), {
      name: "iris",
      versions: ["1"],
      platform: "onnxruntime",
      inputs: [{ name: "input", datatype: "FP32", shape: [-1, 4] }],
      outputs: [{ name: "probabilities", datatype: "FP32", shape: [-1, 3] }],
    });
  });

  it("scores >= 0.9 on the test split through the v2 infer API, exactly as the script recorded", async () => {
    const test = script.metrics.test_indices;
    for (const nested of [true, false]) {
      const probabilities = await inferV2(test, nested);
      for (const row of probabilities) assert.ok(Math.abs(row.reduce((a, b) => a + b, 0) - 1) < 1e-5);
      const correct = probabilities.filter((row, i) => argmax(row) === dataset.labels[test[i] as number]).length;
      assert.equal(correct, script.metrics.test_correct, `nested=${nested}`);
      assert.ok(correct / test.length >= 0.9, `served test accuracy ${correct}/${test.length}`);
      assert.equal(Math.round((correct / test.length) * 1e6) / 1e6, script.metrics.test_accuracy);
    }
  });

  it("matches the recorded train accuracy too", async () => {
    const testSet = new Set(script.metrics.test_indices);
    const train = dataset.labels.map((_, i) => i).filter((i) => !testSet.has(i));
    const probabilities = await inferV2(train, false);
    const correct = probabilities.filter((row, i) => argmax(row) === dataset.labels[train[i] as number]).length;
    assert.equal(correct, script.metrics.train_correct);
  });

  it("scores the same through the plain JSON API, with class names as labels", async () => {
    const test = script.metrics.test_indices;
    const bodies: Array<[string, unknown]> = [
      ["/predict", { instances: rowsOf(test) }],
      ["/", rowsOf(test)],
    ];
    for (const [path, body] of bodies) {
      const { status, body: response } = await postJson(path, body);
      assert.equal(status, 200, JSON.stringify(response));
      const { predictions } = response as { predictions: Array<{ label: string; probabilities: number[] }> };
      assert.equal(predictions.length, test.length);
      const correct = predictions.filter((prediction, i) => prediction.label === classOf(test[i] as number)).length;
      assert.equal(correct, script.metrics.test_correct, path);
      assert.ok(correct / test.length >= 0.9);
      for (const prediction of predictions) {
        assert.equal(prediction.probabilities.length, 3);
        assert.equal(prediction.label, dataset.classes[argmax(prediction.probabilities)]);
      }
    }
  });

  it("classifies a single bare row", async () => {
    const { status, body } = await postJson("/predict", [5.1, 3.5, 1.4, 0.2]);
    assert.equal(status, 200);
    const { predictions } = body as { predictions: Array<{ label: string }> };
    assert.deepEqual(
      predictions.map((prediction) => prediction.label),
      ["setosa"],
    );
  });
});

/**
 * Trains the demo Iris classifier and exports it to ONNX, deterministically:
 *
 *   node --conditions=source --import tsx processors/onnx/demo/train-iris.ts [--out <folder>]
 *
 * Reads `iris.csv` next to this script, writes `iris.onnx` and `metrics.json` next to it
 * (or into `--out`), prints train and test accuracy, then loads the exported file with
 * onnxruntime and checks that it scores the test split exactly as the TypeScript
 * evaluation did (exit code 1 if not).
 */
import { mkdir, readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { InferenceSession, Tensor } from "onnxruntime-node";
import { trainIris } from "../src/training/iris.js";
import { argmax } from "../src/training/softmax-regression.js";

const here = (name: string): string => fileURLToPath(new URL(name, import.meta.url));

const outFlag = process.argv.indexOf("--out");
const outDir = outFlag === -1 ? here(".") : process.argv[outFlag + 1];
if (outDir === undefined) throw new Error("--out needs a folder");
await mkdir(outDir, { recursive: true });
const modelFile = join(outDir, "iris.onnx");

const csv = await readFile(here("./iris.csv"), "utf8");
const { dataset, split, onnx, metrics } = trainIris(csv);
await writeFile(modelFile, onnx);
await writeFile(join(outDir, "metrics.json"), `${JSON.stringify(metrics, null, 2)}\n`);

console.log(`iris: ${dataset.rows.length} rows, classes ${dataset.classes.join(", ")}`);
console.log(`split: ${metrics.train_size} train / ${metrics.test_size} test (stratified, seed ${metrics.seed})`);
console.log(`train accuracy: ${metrics.train_accuracy} (${metrics.train_correct}/${metrics.train_size})`);
console.log(`test accuracy:  ${metrics.test_accuracy} (${metrics.test_correct}/${metrics.test_size})`);
console.log(`final training loss: ${metrics.final_loss}`);
console.log(`wrote ${modelFile} (${onnx.length} bytes) and metrics.json`);

const session = await InferenceSession.create(modelFile);
try {
  const rows = split.test.map((i) => dataset.rows[i] as readonly number[]);
  const input = new Tensor("float32", Float32Array.from(rows.flat()), [rows.length, dataset.featureNames.length]);
  const { probabilities } = await session.run({ input });
  const probs = probabilities?.data as Float32Array;
  const classes = dataset.classes.length;
  const correct = split.test.filter(
    (row, i) => argmax(Array.from(probs.subarray(i * classes, (i + 1) * classes))) === dataset.labels[row],
  ).length;
  console.log(`onnxruntime check: ${correct}/${split.test.length} test rows correct`);
  if (correct !== metrics.test_correct) {
    console.error(`MISMATCH: onnxruntime scored ${correct}, the TypeScript evaluation ${metrics.test_correct}`);
    process.exitCode = 1;
  }
} finally {
  await session.release();
}

/**
 * The demo model: a softmax regression on Fisher's Iris data, trained deterministically and
 * exported to ONNX. Shared by `demo/train-iris.ts` and the tests that check the served model.
 */
import { fitStandardizer, parseLabelledCsv, standardize, stratifiedSplit, type Dataset, type Split } from "./dataset.js";
import { exportLinearClassifier } from "./onnx-export.js";
import { mulberry32 } from "./prng.js";
import { accuracy, lossAndGradient, predictProbabilities, trainSoftmaxRegression, type LinearParams } from "./softmax-regression.js";

/** Hyper-parameters of the demo; changing any of them changes the checked-in model. */
export const IRIS_TRAINING = {
  seed: 1936,
  testFraction: 0.2,
  epochs: 2000,
  learningRate: 0.5,
  l2: 0.001,
} as const;

/** Everything recorded in `demo/metrics.json`. */
export interface IrisMetrics {
  readonly dataset: string;
  readonly model: string;
  readonly algorithm: string;
  readonly seed: number;
  readonly epochs: number;
  readonly learning_rate: number;
  readonly l2: number;
  readonly features: readonly string[];
  readonly classes: readonly string[];
  readonly train_size: number;
  readonly test_size: number;
  readonly train_correct: number;
  readonly test_correct: number;
  readonly train_accuracy: number;
  readonly test_accuracy: number;
  readonly final_loss: number;
  /** 0-based indices of the test rows among the data rows of `iris.csv`. */
  readonly test_indices: readonly number[];
}

/** The trained demo model. */
export interface IrisTraining {
  readonly dataset: Dataset;
  readonly split: Split;
  readonly onnx: Uint8Array;
  readonly metrics: IrisMetrics;
}

const round6 = (value: number): number => Math.round(value * 1e6) / 1e6;

/** Parameters as the ONNX model stores them (float32), so reported accuracy is the served model's. */
function asFloat32(params: LinearParams): LinearParams {
  return { weights: params.weights.map((row) => row.map(Math.fround)), bias: params.bias.map(Math.fround) };
}

/** Trains the demo model from the text of `iris.csv`. Pure: equal input, equal bytes. */
export function trainIris(csv: string): IrisTraining {
  const dataset = parseLabelledCsv(csv);
  const split = stratifiedSplit(dataset.labels, IRIS_TRAINING.testFraction, mulberry32(IRIS_TRAINING.seed));
  const pick = <T>(items: readonly T[], indices: readonly number[]): T[] => indices.map((i) => items[i] as T);
  const trainRows = pick(dataset.rows, split.train);
  const trainLabels = pick(dataset.labels, split.train);
  const testRows = pick(dataset.rows, split.test);
  const testLabels = pick(dataset.labels, split.test);

  const fitted = fitStandardizer(trainRows);
  const standardizer = { mean: fitted.mean.map(Math.fround), std: fitted.std.map(Math.fround) };
  const { params } = trainSoftmaxRegression(standardize(trainRows, standardizer), trainLabels, dataset.classes.length, {
    epochs: IRIS_TRAINING.epochs,
    learningRate: IRIS_TRAINING.learningRate,
    l2: IRIS_TRAINING.l2,
  });
  const stored = asFloat32(params);
  const evaluate = (rows: ReadonlyArray<readonly number[]>) =>
    predictProbabilities(
      stored,
      standardize(
        rows.map((row) => row.map(Math.fround)),
        standardizer,
      ),
    );
  const trainAccuracy = accuracy(evaluate(trainRows), trainLabels);
  const testAccuracy = accuracy(evaluate(testRows), testLabels);
  const finalLoss = lossAndGradient(stored, standardize(trainRows, standardizer), trainLabels, IRIS_TRAINING.l2).loss;

  const algorithm = "multinomial logistic regression (softmax), full-batch gradient descent, L2";
  const onnx = exportLinearClassifier({
    standardizer,
    params: stored,
    classes: dataset.classes,
    featureNames: dataset.featureNames,
    producer: "eas-train-iris",
    docString: `Iris classifier: ${algorithm}; input: ${dataset.featureNames.join(", ")} in cm.`,
  });
  return {
    dataset,
    split,
    onnx,
    metrics: {
      dataset: "iris.csv",
      model: "iris.onnx",
      algorithm,
      seed: IRIS_TRAINING.seed,
      epochs: IRIS_TRAINING.epochs,
      learning_rate: IRIS_TRAINING.learningRate,
      l2: IRIS_TRAINING.l2,
      features: dataset.featureNames,
      classes: dataset.classes,
      train_size: split.train.length,
      test_size: split.test.length,
      train_correct: Math.round(trainAccuracy * split.train.length),
      test_correct: Math.round(testAccuracy * split.test.length),
      train_accuracy: round6(trainAccuracy),
      test_accuracy: round6(testAccuracy),
      final_loss: round6(finalLoss),
      test_indices: split.test,
    },
  };
}

/**
 * Multinomial logistic regression (softmax regression) trained by full-batch gradient
 * descent on the mean cross-entropy with L2 regularisation of the weights.
 */

/** Weights (features x classes) and biases (classes). */
export interface LinearParams {
  readonly weights: ReadonlyArray<readonly number[]>;
  readonly bias: readonly number[];
}

/** Hyper-parameters of {@link trainSoftmaxRegression}. */
export interface TrainOptions {
  readonly epochs: number;
  readonly learningRate: number;
  /** L2 penalty on the weights (not the biases). */
  readonly l2: number;
}

/** Trained parameters and the loss after every epoch. */
export interface TrainResult {
  readonly params: LinearParams;
  readonly losses: readonly number[];
}

/** Numerically stable softmax of one row of logits. */
export function softmax(logits: readonly number[]): number[] {
  const max = Math.max(...logits);
  const exps = logits.map((value) => Math.exp(value - max));
  const sum = exps.reduce((a, b) => a + b, 0);
  return exps.map((value) => value / sum);
}

/** Class probabilities for each row. */
export function predictProbabilities(params: LinearParams, rows: ReadonlyArray<readonly number[]>): number[][] {
  const classes = params.bias.length;
  return rows.map((row) =>
    softmax(
      Array.from({ length: classes }, (_, k) =>
        row.reduce((sum, value, j) => sum + value * (params.weights[j]?.[k] ?? 0), params.bias[k] ?? 0),
      ),
    ),
  );
}

/** Index of the largest value (the first one on ties). */
export function argmax(values: readonly number[]): number {
  return values.reduce((best, value, index) => (value > (values[best] ?? -Infinity) ? index : best), 0);
}

/** Fraction of rows whose most probable class equals the label. */
export function accuracy(probabilities: ReadonlyArray<readonly number[]>, labels: readonly number[]): number {
  const correct = probabilities.filter((row, i) => argmax(row) === labels[i]).length;
  return correct / labels.length;
}

/** Mean cross-entropy plus L2 penalty, and its gradient with respect to weights and biases. */
export function lossAndGradient(
  params: LinearParams,
  rows: ReadonlyArray<readonly number[]>,
  labels: readonly number[],
  l2: number,
): { loss: number; gradWeights: number[][]; gradBias: number[] } {
  const features = params.weights.length;
  const classes = params.bias.length;
  const gradWeights = Array.from({ length: features }, () => new Array<number>(classes).fill(0));
  const gradBias = new Array<number>(classes).fill(0);
  const n = rows.length;
  let loss = 0;
  predictProbabilities(params, rows).forEach((probs, i) => {
    const label = labels[i] ?? 0;
    loss -= Math.log(Math.max(probs[label] ?? 0, 1e-300));
    const row = rows[i] ?? [];
    for (let k = 0; k < classes; k += 1) {
      // d(cross-entropy)/d(logit_k) = p_k - [k == label]
      const delta = ((probs[k] ?? 0) - (k === label ? 1 : 0)) / n;
      gradBias[k] = (gradBias[k] ?? 0) + delta;
      for (let j = 0; j < features; j += 1) {
        const gradRow = gradWeights[j] as number[];
        gradRow[k] = (gradRow[k] ?? 0) + delta * (row[j] ?? 0);
      }
    }
  });
  loss /= n;
  for (let j = 0; j < features; j += 1) {
    for (let k = 0; k < classes; k += 1) {
      const w = params.weights[j]?.[k] ?? 0;
      loss += (l2 / 2) * w * w;
      const gradRow = gradWeights[j] as number[];
      gradRow[k] = (gradRow[k] ?? 0) + l2 * w;
    }
  }
  return { loss, gradWeights, gradBias };
}

/**
 * Trains from zero weights (the loss is convex, so no random start is needed and the
 * result is deterministic).
 */
export function trainSoftmaxRegression(
  rows: ReadonlyArray<readonly number[]>,
  labels: readonly number[],
  classCount: number,
  options: TrainOptions,
): TrainResult {
  const features = rows[0]?.length ?? 0;
  let weights = Array.from({ length: features }, () => new Array<number>(classCount).fill(0));
  let bias = new Array<number>(classCount).fill(0);
  const losses: number[] = [];
  for (let epoch = 0; epoch < options.epochs; epoch += 1) {
    const { loss, gradWeights, gradBias } = lossAndGradient({ weights, bias }, rows, labels, options.l2);
    losses.push(loss);
    weights = weights.map((row, j) => row.map((w, k) => w - options.learningRate * (gradWeights[j]?.[k] ?? 0)));
    bias = bias.map((b, k) => b - options.learningRate * (gradBias[k] ?? 0));
  }
  return { params: { weights, bias }, losses };
}

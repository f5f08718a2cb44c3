/**
 * The plain JSON API for simple clients: `{"instances": rows}` or a bare array of rows in,
 * `{"predictions": [...]}` out.
 */
import type { Tensor } from "./datatypes.js";
import { badRequest, RequestErrorCode } from "./errors.js";
import type { ModelSignature } from "./model.js";
import { checkShape, decodeElements, encodeElements, flatten, shapeOfNested } from "./tensors.js";

/** A classifier prediction: the winning class and the probability of every class. */
export interface ClassPrediction {
  /** Class name from model metadata, or the class index when the model names none. */
  readonly label: string | number;
  readonly probabilities: readonly number[];
}

/** The plain JSON response. */
export interface PredictResponse {
  readonly model_name: string;
  readonly predictions: readonly unknown[];
}

/** Decodes the plain JSON body into the model's single input tensor. */
export function decodePredictRequest(body: unknown, model: ModelSignature): Tensor {
  let rows: unknown;
  if (Array.isArray(body)) rows = body;
  else if (body !== null && typeof body === "object" && "instances" in body) rows = body.instances;
  else throw badRequest(RequestErrorCode.BadRequest, `expected {"instances": [[...], ...]} or a JSON array of rows`);
  if (!Array.isArray(rows)) throw badRequest(RequestErrorCode.BadRequest, `'instances' must be an array of rows`);
  if (rows.length === 0) throw badRequest(RequestErrorCode.BadRequest, `'instances' is empty`);
  const [spec, ...others] = model.inputs;
  if (spec === undefined || others.length > 0) {
    throw badRequest(
      RequestErrorCode.BadRequest,
      `model '${model.name}' has ${model.inputs.length} inputs; use the v2 API POST /v2/models/${model.name}/infer`,
    );
  }
  let shape = shapeOfNested(rows, "instances");
  // A single row sent bare ([5.1, 3.5, 1.4, 0.2]) is a batch of one.
  if (spec.shape.length > 0 && shape.length === spec.shape.length - 1) {
    rows = [rows];
    shape = [1, ...shape];
  }
  checkShape(spec, shape, "instances");
  return { name: spec.name, datatype: spec.datatype, shape, data: encodeElements(spec.datatype, flatten(rows), "instances") };
}

const PROBABILITY_NAMES = ["probabilities", "probability", "output_probability", "probs", "scores"];

function probabilityOutput(model: ModelSignature, outputs: readonly Tensor[]): Tensor | undefined {
  const candidates = outputs.filter(
    (tensor) =>
      tensor.shape.length === 2 &&
      (tensor.datatype === "FP32" || tensor.datatype === "FP64") &&
      (model.classes === undefined ? PROBABILITY_NAMES.includes(tensor.name) : tensor.shape[1] === model.classes.length),
  );
  return candidates.find((tensor) => PROBABILITY_NAMES.includes(tensor.name)) ?? candidates[0];
}

/** Splits a batched tensor into its rows as nested arrays (scalars for rank-1 tensors). */
function rowsOf(tensor: Tensor): unknown[] {
  const values = decodeElements(tensor.datatype, tensor.data);
  const [batch = 1, ...inner] = tensor.shape;
  const rowSize = inner.reduce((count, dim) => count * dim, 1);
  const nest = (flat: readonly unknown[], dims: readonly number[]): unknown => {
    if (dims.length === 0) return flat[0];
    const [first = 0, ...rest] = dims;
    const size = flat.length / Math.max(first, 1);
    return Array.from({ length: first }, (_, i) => nest(flat.slice(i * size, (i + 1) * size), rest));
  };
  return Array.from({ length: batch }, (_, i) => nest(values.slice(i * rowSize, (i + 1) * rowSize), inner));
}

/**
 * Turns output tensors into one prediction per row: for classifiers `{label, probabilities}`;
 * for a single other output, the row's values; for several outputs, an object keyed by output name.
 */
export function encodePredictions(model: ModelSignature, outputs: readonly Tensor[]): PredictResponse {
  const probabilities = probabilityOutput(model, outputs);
  if (probabilities !== undefined) {
    const predictions = rowsOf(probabilities).map((row): ClassPrediction => {
      const scores = row as number[];
      const best = scores.reduce((bestIndex, score, index) => (score > (scores[bestIndex] ?? -Infinity) ? index : bestIndex), 0);
      return { label: model.classes?.[best] ?? best, probabilities: scores };
    });
    return { model_name: model.name, predictions };
  }
  if (outputs.length === 1 && outputs[0] !== undefined) return { model_name: model.name, predictions: rowsOf(outputs[0]) };
  const perOutput = outputs.map((tensor) => [tensor.name, rowsOf(tensor)] as const);
  const batch = Math.max(...perOutput.map(([, rows]) => rows.length));
  const predictions = Array.from({ length: batch }, (_, i) =>
    Object.fromEntries(perOutput.map(([name, rows]) => [name, rows.length === batch ? rows[i] : rows])),
  );
  return { model_name: model.name, predictions };
}

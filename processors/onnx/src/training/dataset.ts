import { shuffled } from "./prng.js";

/** A labelled numeric data set. */
export interface Dataset {
  readonly featureNames: readonly string[];
  /** Class names in order of first appearance; labels index into it. */
  readonly classes: readonly string[];
  readonly rows: ReadonlyArray<readonly number[]>;
  readonly labels: readonly number[];
}

/** A CSV line is malformed. */
export class DatasetError extends Error {
  override readonly name = "DatasetError";
  constructor(
    message: string,
    /** 1-based line number in the file. */
    readonly line: number,
  ) {
    super(`line ${line}: ${message}`);
  }
}

/**
 * Parses a CSV with a header, numeric feature columns and the class name in the last column.
 */
export function parseLabelledCsv(text: string): Dataset {
  const lines = text.split(/\r?\n/);
  const header = (lines[0] ?? "").split(",").map((cell) => cell.trim());
  if (header.length < 2) throw new DatasetError("header needs at least one feature and a label column", 1);
  const featureNames = header.slice(0, -1);
  const classes: string[] = [];
  const rows: number[][] = [];
  const labels: number[] = [];
  lines.slice(1).forEach((line, index) => {
    if (line.trim() === "") return;
    const cells = line.split(",").map((cell) => cell.trim());
    if (cells.length !== header.length) {
      throw new DatasetError(`expected ${header.length} cells, got ${cells.length}`, index + 2);
    }
    const values = cells.slice(0, -1).map(Number);
    if (values.some((value) => !Number.isFinite(value))) throw new DatasetError("feature is not a number", index + 2);
    const name = cells.at(-1) as string;
    let label = classes.indexOf(name);
    if (label === -1) label = classes.push(name) - 1;
    rows.push(values);
    labels.push(label);
  });
  return { featureNames, classes, rows, labels };
}

/** Row indices of a train/test split, each list ascending. */
export interface Split {
  readonly train: readonly number[];
  readonly test: readonly number[];
}

/**
 * Stratified split: for each class, shuffles its row indices with `random` and puts the
 * first `round(count * testFraction)` into the test set. Classes are visited in label order,
 * so the same seed always gives the same split.
 */
export function stratifiedSplit(labels: readonly number[], testFraction: number, random: () => number): Split {
  const classCount = Math.max(-1, ...labels) + 1;
  const train: number[] = [];
  const test: number[] = [];
  for (let label = 0; label < classCount; label += 1) {
    const members = labels.flatMap((value, index) => (value === label ? [index] : []));
    const order = shuffled(members, random);
    const testCount = Math.round(members.length * testFraction);
    test.push(...order.slice(0, testCount));
    train.push(...order.slice(testCount));
  }
  return { train: train.sort((a, b) => a - b), test: test.sort((a, b) => a - b) };
}

/** Per-feature mean and standard deviation, fitted on training rows only. */
export interface Standardizer {
  readonly mean: readonly number[];
  readonly std: readonly number[];
}

/** Fits a {@link Standardizer} (population standard deviation; a constant feature gets 1). */
export function fitStandardizer(rows: ReadonlyArray<readonly number[]>): Standardizer {
  const width = rows[0]?.length ?? 0;
  const mean = Array.from({ length: width }, (_, j) => rows.reduce((sum, row) => sum + (row[j] ?? 0), 0) / rows.length);
  const std = mean.map((m, j) => {
    const variance = rows.reduce((sum, row) => sum + ((row[j] ?? 0) - m) ** 2, 0) / rows.length;
    return variance > 0 ? Math.sqrt(variance) : 1;
  });
  return { mean, std };
}

/** Applies a {@link Standardizer}: (x - mean) / std per feature. */
export function standardize(rows: ReadonlyArray<readonly number[]>, { mean, std }: Standardizer): number[][] {
  return rows.map((row) => row.map((value, j) => (value - (mean[j] ?? 0)) / (std[j] ?? 1)));
}

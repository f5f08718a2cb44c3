import type { TensorData, TensorSpec, V2Datatype } from "./datatypes.js";
import { badRequest, RequestErrorCode } from "./errors.js";

/** Formats a shape the way error messages show it: `[N,4]` with -1 as the dimension's name. */
export function formatShape(shape: readonly number[], dynamicName = "N"): string {
  return `[${shape.map((dim) => (dim < 0 ? dynamicName : String(dim))).join(",")}]`;
}

/** Number of elements of a shape (1 for a scalar). */
export function elementCount(shape: readonly number[]): number {
  return shape.reduce((count, dim) => count * dim, 1);
}

/**
 * The shape of nested JSON arrays, checking that they are rectangular.
 * `what` names the value in error messages.
 */
export function shapeOfNested(value: unknown, what: string): number[] {
  const shape: number[] = [];
  let level: unknown = value;
  while (Array.isArray(level)) {
    shape.push(level.length);
    if (level.length === 0) break;
    level = level[0];
  }
  checkRectangular(value, shape, 0, what);
  return shape;
}

function checkRectangular(value: unknown, shape: readonly number[], depth: number, what: string): void {
  if (depth === shape.length) {
    if (Array.isArray(value)) throw badRequest(RequestErrorCode.WrongShape, `${what} is ragged: nesting is deeper in some rows`);
    return;
  }
  if (!Array.isArray(value) || value.length !== shape[depth]) {
    throw badRequest(
      RequestErrorCode.WrongShape,
      `${what} is ragged: expected ${shape[depth]} elements at depth ${depth}, got ${Array.isArray(value) ? value.length : "a scalar"}`,
    );
  }
  for (const item of value) checkRectangular(item, shape, depth + 1, what);
}

/** Flattens nested arrays in row-major order (a flat array is returned as is). */
export function flatten(value: unknown): unknown[] {
  if (!Array.isArray(value)) return [value];
  if (!value.some(Array.isArray)) return value;
  const out: unknown[] = [];
  const walk = (item: unknown): void => {
    if (Array.isArray(item)) for (const inner of item) walk(inner);
    else out.push(item);
  };
  walk(value);
  return out;
}

/**
 * Checks a request shape against the model's declared shape: same rank (when the model
 * declares one) and equal fixed dimensions. Dynamic dimensions (-1) accept any size.
 */
export function checkShape(spec: TensorSpec, shape: readonly number[], what: string): void {
  if (spec.shape.length === 0) return;
  const expected = formatShape(spec.shape);
  if (shape.length !== spec.shape.length) {
    throw badRequest(
      RequestErrorCode.WrongShape,
      `${what} has shape ${formatShape(shape)} (rank ${shape.length}) but model input '${spec.name}' expects ${expected} (rank ${spec.shape.length})`,
    );
  }
  spec.shape.forEach((dim, axis) => {
    if (dim >= 0 && shape[axis] !== dim) {
      throw badRequest(
        RequestErrorCode.WrongShape,
        `${what} has shape ${formatShape(shape)} but model input '${spec.name}' expects ${expected}: dimension ${axis} must be ${dim}`,
      );
    }
  });
}

const INT_RANGES: Partial<Record<V2Datatype, readonly [number, number]>> = {
  INT8: [-128, 127],
  INT16: [-32768, 32767],
  INT32: [-2147483648, 2147483647],
  UINT8: [0, 255],
  UINT16: [0, 65535],
  UINT32: [0, 4294967295],
};

function elementError(what: string, index: number, value: unknown, expected: string): Error {
  return badRequest(
    RequestErrorCode.WrongData,
    `${what}: element ${index} is ${JSON.stringify(value) ?? String(value)}, expected ${expected}`,
  );
}

function toBigInt(value: unknown, what: string, index: number, unsigned: boolean): bigint {
  const expected = unsigned ? "a non-negative integer" : "an integer";
  let result: bigint;
  if (typeof value === "number" && Number.isSafeInteger(value)) result = BigInt(value);
  else if (typeof value === "string" && /^-?\d+$/.test(value)) result = BigInt(value);
  else throw elementError(what, index, value, expected);
  const [min, max] = unsigned ? [0n, 2n ** 64n - 1n] : [-(2n ** 63n), 2n ** 63n - 1n];
  if (result < min || result > max) throw elementError(what, index, value, `${expected} in 64 bits`);
  return result;
}

/**
 * Converts flat JSON elements into the typed storage of `datatype`, checking each element
 * (numbers for float types, in-range integers for integer types, booleans for BOOL,
 * strings for BYTES).
 */
export function encodeElements(datatype: V2Datatype, values: readonly unknown[], what: string): TensorData {
  switch (datatype) {
    case "FP32":
    case "FP64": {
      const out = datatype === "FP32" ? new Float32Array(values.length) : new Float64Array(values.length);
      values.forEach((value, index) => {
        if (typeof value !== "number") throw elementError(what, index, value, "a number");
        out[index] = value;
      });
      return out;
    }
    case "INT8":
    case "INT16":
    case "INT32":
    case "UINT8":
    case "UINT16":
    case "UINT32": {
      const [min, max] = INT_RANGES[datatype] ?? [0, 0];
      const out = new {
        INT8: Int8Array,
        INT16: Int16Array,
        INT32: Int32Array,
        UINT8: Uint8Array,
        UINT16: Uint16Array,
        UINT32: Uint32Array,
      }[datatype](values.length);
      values.forEach((value, index) => {
        if (typeof value !== "number" || !Number.isInteger(value) || value < min || value > max) {
          throw elementError(what, index, value, `an integer in [${min}, ${max}]`);
        }
        out[index] = value;
      });
      return out;
    }
    case "INT64":
    case "UINT64": {
      const unsigned = datatype === "UINT64";
      const out = unsigned ? new BigUint64Array(values.length) : new BigInt64Array(values.length);
      values.forEach((value, index) => {
        out[index] = toBigInt(value, what, index, unsigned);
      });
      return out;
    }
    case "BOOL": {
      const out = new Uint8Array(values.length);
      values.forEach((value, index) => {
        if (typeof value !== "boolean") throw elementError(what, index, value, "true or false");
        out[index] = value ? 1 : 0;
      });
      return out;
    }
    case "BYTES":
      return values.map((value, index) => {
        if (typeof value !== "string") throw elementError(what, index, value, "a string");
        return value;
      });
    case "FP16":
      throw badRequest(RequestErrorCode.UnsupportedDatatype, `${what}: datatype FP16 is not supported by this processor`);
  }
}

/** JSON-ready elements of a tensor: numbers, booleans or strings (64-bit integers as numbers). */
export function decodeElements(datatype: V2Datatype, data: TensorData): Array<number | boolean | string | null> {
  if (Array.isArray(data)) return data;
  if (datatype === "BOOL") return Array.from(data as Uint8Array, (value) => value !== 0);
  if (data instanceof BigInt64Array || data instanceof BigUint64Array) return Array.from(data, (value) => Number(value));
  // JSON has no NaN or Infinity; null is what JSON.stringify would write anyway.
  return Array.from(data as ArrayLike<number>, (value) => (Number.isFinite(value) ? value : null));
}

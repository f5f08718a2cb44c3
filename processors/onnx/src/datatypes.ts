/**
 * Tensor datatypes of the Open Inference Protocol v2, and their onnxruntime names.
 */
export const V2_DATATYPES = [
  "BOOL",
  "UINT8",
  "UINT16",
  "UINT32",
  "UINT64",
  "INT8",
  "INT16",
  "INT32",
  "INT64",
  "FP16",
  "FP32",
  "FP64",
  "BYTES",
] as const;

/** A v2 datatype name (`FP32`, `INT64`, ...). */
export type V2Datatype = (typeof V2_DATATYPES)[number];

/** onnxruntime's element type names for each v2 datatype. */
export const ORT_TYPE_OF: Readonly<Record<V2Datatype, string>> = {
  BOOL: "bool",
  UINT8: "uint8",
  UINT16: "uint16",
  UINT32: "uint32",
  UINT64: "uint64",
  INT8: "int8",
  INT16: "int16",
  INT32: "int32",
  INT64: "int64",
  FP16: "float16",
  FP32: "float32",
  FP64: "float64",
  BYTES: "string",
};

const V2_OF_ORT: ReadonlyMap<string, V2Datatype> = new Map(Object.entries(ORT_TYPE_OF).map(([v2, ort]) => [ort, v2 as V2Datatype]));

/** The v2 datatype of an onnxruntime element type, or undefined for types v2 cannot carry. */
export function v2DatatypeOf(ortType: string): V2Datatype | undefined {
  return V2_OF_ORT.get(ortType);
}

/** True when `value` names a v2 datatype. */
export function isV2Datatype(value: unknown): value is V2Datatype {
  return typeof value === "string" && (V2_DATATYPES as readonly string[]).includes(value);
}

/** Element storage of a tensor, by datatype family. */
export type TensorData =
  | Float32Array
  | Float64Array
  | Int8Array
  | Int16Array
  | Int32Array
  | BigInt64Array
  | Uint8Array
  | Uint16Array
  | Uint32Array
  | BigUint64Array
  | string[];

/** A tensor in the processor's own terms: decoded from a request, or read back from the runtime. */
export interface Tensor {
  readonly name: string;
  readonly datatype: V2Datatype;
  readonly shape: readonly number[];
  readonly data: TensorData;
}

/** Shape and datatype of a model input or output; -1 marks a dynamic dimension. */
export interface TensorSpec {
  readonly name: string;
  readonly datatype: V2Datatype;
  /** Empty when the model does not declare the rank. */
  readonly shape: readonly number[];
}

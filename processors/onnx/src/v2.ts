/**
 * The Open Inference Protocol v2 (KServe, Triton, MLServer) REST codecs: request
 * validation against the model signature, and response and metadata documents.
 */
import { isV2Datatype, V2_DATATYPES, type Tensor, type TensorSpec } from "./datatypes.js";
import { badRequest, RequestErrorCode } from "./errors.js";
import type { ModelSignature } from "./model.js";
import { checkShape, decodeElements, elementCount, encodeElements, flatten, formatShape } from "./tensors.js";

/** A validated inference request. */
export interface InferRequest {
  readonly id: string | undefined;
  readonly inputs: readonly Tensor[];
  /** Output names to return, in order. */
  readonly outputs: readonly string[];
}

/** One output tensor of a v2 response. */
export interface V2OutputTensor {
  readonly name: string;
  readonly datatype: string;
  readonly shape: readonly number[];
  readonly data: ReadonlyArray<number | boolean | string | null>;
}

/** The v2 inference response document. */
export interface V2InferResponse {
  readonly model_name: string;
  readonly model_version: string;
  readonly id?: string;
  readonly outputs: readonly V2OutputTensor[];
}

/** The v2 model metadata document. */
export interface V2ModelMetadata {
  readonly name: string;
  readonly versions: readonly string[];
  readonly platform: string;
  readonly inputs: ReadonlyArray<{ name: string; datatype: string; shape: readonly number[] }>;
  readonly outputs: ReadonlyArray<{ name: string; datatype: string; shape: readonly number[] }>;
}

function isObject(value: unknown): value is Record<string, unknown> {
  return value !== null && typeof value === "object" && !Array.isArray(value);
}

function names(specs: readonly TensorSpec[]): string {
  return specs.map((spec) => `'${spec.name}'`).join(", ");
}

function decodeInput(raw: unknown, index: number, model: ModelSignature): Tensor {
  if (!isObject(raw)) throw badRequest(RequestErrorCode.BadRequest, `inputs[${index}] must be an object`);
  const { name, shape, datatype, data } = raw;
  if (typeof name !== "string") throw badRequest(RequestErrorCode.BadRequest, `inputs[${index}].name must be a string`);
  const spec = model.inputs.find((input) => input.name === name);
  if (spec === undefined) {
    throw badRequest(RequestErrorCode.UnknownInput, `unknown input '${name}'; model '${model.name}' has inputs ${names(model.inputs)}`);
  }
  const what = `input '${name}'`;
  if (!isV2Datatype(datatype)) {
    throw badRequest(
      RequestErrorCode.WrongDatatype,
      `${what}: datatype ${JSON.stringify(datatype)} is not a v2 datatype (${V2_DATATYPES.join(", ")})`,
    );
  }
  if (datatype !== spec.datatype) {
    throw badRequest(RequestErrorCode.WrongDatatype, `${what} has datatype ${datatype} but the model expects ${spec.datatype}`);
  }
  if (!Array.isArray(shape) || !shape.every((dim) => typeof dim === "number" && Number.isInteger(dim) && dim >= 0)) {
    throw badRequest(RequestErrorCode.WrongShape, `${what}: shape must be an array of non-negative integers`);
  }
  const dims = shape as number[];
  checkShape(spec, dims, what);
  if (data === undefined) throw badRequest(RequestErrorCode.WrongData, `${what}: data is missing`);
  const values = flatten(data);
  const expected = elementCount(dims);
  if (values.length !== expected) {
    throw badRequest(
      RequestErrorCode.WrongShape,
      `${what}: shape ${formatShape(dims)} needs ${expected} values, data has ${values.length}`,
    );
  }
  return { name, datatype, shape: dims, data: encodeElements(datatype, values, what) };
}

/** Validates a v2 infer request body against the model and decodes its tensors. */
export function decodeInferRequest(body: unknown, model: ModelSignature): InferRequest {
  if (!isObject(body) || !Array.isArray(body.inputs)) {
    throw badRequest(RequestErrorCode.BadRequest, `request must be a JSON object with an 'inputs' array`);
  }
  const inputs = body.inputs.map((raw, index) => decodeInput(raw, index, model));
  const seen = new Set<string>();
  for (const input of inputs) {
    if (seen.has(input.name)) throw badRequest(RequestErrorCode.BadRequest, `input '${input.name}' is given twice`);
    seen.add(input.name);
  }
  const missing = model.inputs.filter((spec) => !seen.has(spec.name));
  if (missing.length > 0) {
    throw badRequest(RequestErrorCode.MissingInput, `missing input ${names(missing)}; model '${model.name}' needs ${names(model.inputs)}`);
  }
  let outputs = model.outputs.map((spec) => spec.name);
  if (body.outputs !== undefined) {
    if (!Array.isArray(body.outputs)) throw badRequest(RequestErrorCode.BadRequest, `'outputs' must be an array`);
    outputs = body.outputs.map((raw, index) => {
      if (!isObject(raw) || typeof raw.name !== "string") {
        throw badRequest(RequestErrorCode.BadRequest, `outputs[${index}] must be an object with a 'name'`);
      }
      const name = raw.name;
      if (!model.outputs.some((spec) => spec.name === name)) {
        throw badRequest(
          RequestErrorCode.UnknownOutput,
          `unknown output '${name}'; model '${model.name}' has outputs ${names(model.outputs)}`,
        );
      }
      return name;
    });
  }
  if (body.id !== undefined && typeof body.id !== "string") throw badRequest(RequestErrorCode.BadRequest, `'id' must be a string`);
  return { id: body.id, inputs, outputs };
}

/** Builds the v2 infer response from the model's output tensors. */
export function encodeInferResponse(model: ModelSignature, id: string | undefined, outputs: readonly Tensor[]): V2InferResponse {
  return {
    model_name: model.name,
    model_version: model.version,
    ...(id === undefined ? {} : { id }),
    outputs: outputs.map((tensor) => ({
      name: tensor.name,
      datatype: tensor.datatype,
      shape: tensor.shape,
      data: decodeElements(tensor.datatype, tensor.data),
    })),
  };
}

/** Builds the v2 model metadata document. */
export function modelMetadata(model: ModelSignature): V2ModelMetadata {
  const describe = (spec: TensorSpec) => ({ name: spec.name, datatype: spec.datatype, shape: spec.shape });
  return {
    name: model.name,
    versions: [model.version],
    platform: "onnxruntime",
    inputs: model.inputs.map(describe),
    outputs: model.outputs.map(describe),
  };
}

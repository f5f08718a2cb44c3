/**
 * Exports a standardize-then-linear-then-softmax classifier as an ONNX model, building the
 * graph with `onnx-proto` (protobufjs classes for onnx.proto), so no Python is needed:
 *
 *   input [N,F] -> Sub(mean) -> Div(std) -> MatMul(W [F,C]) -> Add(b [C]) -> Softmax -> probabilities [N,C]
 */
import onnxProto from "onnx-proto";
import type { Standardizer } from "./dataset.js";
import type { LinearParams } from "./softmax-regression.js";

const { onnx } = onnxProto;

/** What {@link exportLinearClassifier} writes into the model. */
export interface LinearClassifierExport {
  readonly standardizer: Standardizer;
  readonly params: LinearParams;
  readonly classes: readonly string[];
  readonly featureNames: readonly string[];
  /** `producer_name` of the model. */
  readonly producer: string;
  readonly docString?: string;
  /** Extra `metadata_props` entries (after `classes` and `features`). */
  readonly metadata?: Readonly<Record<string, string>>;
}

/** Opset 13: Softmax over one axis (the opset 1-12 version flattens trailing axes). */
const OPSET = 13;
/** IR version 8 is what onnx 1.10 (the onnx-proto release) writes; onnxruntime reads 3 to 10+. */
const IR_VERSION = 8;
const FLOAT = onnx.TensorProto.DataType.FLOAT;

function float32Tensor(name: string, dims: readonly number[], values: readonly number[]) {
  const bytes = new Uint8Array(values.length * 4);
  const view = new DataView(bytes.buffer);
  // ONNX raw_data is little-endian whatever the host.
  values.forEach((value, i) => view.setFloat32(i * 4, value, true));
  return onnx.TensorProto.create({ name, dims: [...dims], dataType: FLOAT, rawData: bytes });
}

function floatValueInfo(name: string, dims: ReadonlyArray<number | string>) {
  return onnx.ValueInfoProto.create({
    name,
    type: {
      tensorType: {
        elemType: FLOAT,
        shape: { dim: dims.map((dim) => (typeof dim === "string" ? { dimParam: dim } : { dimValue: dim })) },
      },
    },
  });
}

function node(opType: string, inputs: string[], output: string, attribute: onnxProto.onnx.IAttributeProto[] = []) {
  return onnx.NodeProto.create({ opType, input: inputs, output: [output], name: `${opType.toLowerCase()}_${output}`, attribute });
}

/** Serializes the classifier as an ONNX `ModelProto` (deterministic bytes for equal inputs). */
export function exportLinearClassifier(model: LinearClassifierExport): Uint8Array {
  const features = model.featureNames.length;
  const classes = model.classes.length;
  const graph = onnx.GraphProto.create({
    name: "standardized_softmax_regression",
    node: [
      node("Sub", ["input", "mean"], "centered"),
      node("Div", ["centered", "std"], "standardized"),
      node("MatMul", ["standardized", "weights"], "weighted"),
      node("Add", ["weighted", "bias"], "logits"),
      node("Softmax", ["logits"], "probabilities", [
        onnx.AttributeProto.create({ name: "axis", type: onnx.AttributeProto.AttributeType.INT, i: -1 }),
      ]),
    ],
    initializer: [
      float32Tensor("mean", [features], model.standardizer.mean),
      float32Tensor("std", [features], model.standardizer.std),
      float32Tensor("weights", [features, classes], model.params.weights.flat()),
      float32Tensor("bias", [classes], model.params.bias),
    ],
    input: [floatValueInfo("input", ["N", features])],
    output: [floatValueInfo("probabilities", ["N", classes])],
  });
  const metadata = {
    classes: JSON.stringify(model.classes),
    features: JSON.stringify(model.featureNames),
    ...model.metadata,
  };
  const proto = onnx.ModelProto.create({
    irVersion: IR_VERSION,
    opsetImport: [{ domain: "", version: OPSET }],
    producerName: model.producer,
    producerVersion: "1",
    modelVersion: 1,
    docString: model.docString ?? "",
    graph,
    metadataProps: Object.entries(metadata).map(([key, value]) => ({ key, value })),
  });
  return onnx.ModelProto.encode(proto).finish();
}

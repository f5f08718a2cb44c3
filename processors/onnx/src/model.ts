import { readFile } from "node:fs/promises";
import { InferenceSession, Tensor as OrtTensor } from "onnxruntime-node";
import type { OnnxConfig } from "./config.js";
import { ORT_TYPE_OF, v2DatatypeOf, type Tensor, type TensorData, type TensorSpec } from "./datatypes.js";
import { ModelLoadError } from "./errors.js";
import { resolveModelFile } from "./model-file.js";
import { classNamesOf, readOnnxModelInfo } from "./onnx-metadata.js";

/** What the HTTP layer needs to know about a model: its name and tensor signature. */
export interface ModelSignature {
  /** The name clients use in `/v2/models/{name}`. */
  readonly name: string;
  /** The one version served. */
  readonly version: string;
  readonly inputs: readonly TensorSpec[];
  /** Tensor outputs (non-tensor outputs such as sequences of maps are not served). */
  readonly outputs: readonly TensorSpec[];
  /** Class names, for classifiers (from metadata `classes`, or the `classes` config key). */
  readonly classes: readonly string[] | undefined;
  /** The model's `metadata_props`. */
  readonly metadata: Readonly<Record<string, string>>;
}

/** A loaded model that can run inference. */
export interface InferenceModel extends ModelSignature {
  /** Runs the model on `inputs` and returns the requested outputs, in the order asked. */
  run(inputs: readonly Tensor[], outputNames: readonly string[]): Promise<Tensor[]>;
  /** Frees the runtime session. */
  release(): Promise<void>;
}

/** Options of {@link loadOnnxModel}. */
export interface LoadOnnxModelOptions {
  readonly name: string;
  readonly version?: string;
  readonly config: OnnxConfig;
}

function specOf(metadata: InferenceSession.ValueMetadata, path: string): TensorSpec | undefined {
  if (!metadata.isTensor) return undefined;
  const datatype = v2DatatypeOf(metadata.type);
  if (datatype === undefined) {
    throw new ModelLoadError(`tensor '${metadata.name}' has type ${metadata.type}, which the v2 protocol cannot carry`, path);
  }
  // Symbolic (string) and unknown (negative) dimensions are dynamic.
  const shape = metadata.shape.map((dim) => (typeof dim === "number" && dim >= 0 ? dim : -1));
  return { name: metadata.name, datatype, shape };
}

/** Loads an ONNX model with onnxruntime (CPU) and reads its signature and metadata. */
export async function loadOnnxModel(modelPath: string, options: LoadOnnxModelOptions): Promise<InferenceModel> {
  const file = await resolveModelFile(modelPath);
  let bytes: Uint8Array;
  try {
    bytes = await readFile(file);
  } catch (error) {
    throw new ModelLoadError(`cannot read model file '${file}'`, file, { cause: error });
  }
  let session: InferenceSession;
  try {
    session = await InferenceSession.create(file, {
      executionProviders: ["cpu"],
      intraOpNumThreads: options.config.intraOpNumThreads,
      interOpNumThreads: options.config.interOpNumThreads,
      graphOptimizationLevel: options.config.graphOptimizationLevel,
    });
  } catch (error) {
    throw new ModelLoadError(`onnxruntime cannot load '${file}': ${(error as Error).message}`, file, { cause: error });
  }
  let metadata: Readonly<Record<string, string>> = {};
  try {
    metadata = readOnnxModelInfo(bytes).metadataProps;
  } catch {
    // onnxruntime accepted the file, so it is a model; metadata is optional extra.
  }
  const inputSpecs = session.inputMetadata.map((value) => specOf(value, file));
  if (inputSpecs.some((spec) => spec === undefined)) {
    await session.release();
    throw new ModelLoadError(`model '${file}' has non-tensor inputs, which this processor cannot feed`, file);
  }
  const inputs = inputSpecs as TensorSpec[];
  const outputs = session.outputMetadata.map((value) => specOf(value, file)).filter((spec): spec is TensorSpec => spec !== undefined);
  if (outputs.length === 0) {
    await session.release();
    throw new ModelLoadError(`model '${file}' has no tensor outputs`, file);
  }
  return {
    name: options.name,
    version: options.version ?? "1",
    inputs,
    outputs,
    classes: options.config.classes ?? classNamesOf(metadata),
    metadata,
    async run(tensors, outputNames) {
      const feeds: Record<string, OrtTensor> = {};
      for (const tensor of tensors) {
        feeds[tensor.name] = new OrtTensor(ORT_TYPE_OF[tensor.datatype] as "float32", tensor.data as Float32Array, [...tensor.shape]);
      }
      const results = await session.run(feeds, [...outputNames]);
      return outputNames.map((name) => {
        const value = results[name];
        const datatype = value === undefined ? undefined : v2DatatypeOf(value.type);
        if (value === undefined || datatype === undefined) throw new Error(`onnxruntime returned no tensor '${name}'`);
        return { name, datatype, shape: [...value.dims], data: value.data as TensorData };
      });
    },
    release: () => session.release(),
  };
}

import { describe, it } from "node:test";
import assert from "node:assert/strict";
import type { Tensor } from "./datatypes.js";
import { RequestError } from "./errors.js";
import type { ModelSignature } from "./model.js";
import { decodePredictRequest, encodePredictions } from "./predict.js";
import { decodeElements, encodeElements, flatten, shapeOfNested } from "./tensors.js";
import { decodeInferRequest, encodeInferResponse, modelMetadata } from "./v2.js";

const IRIS: ModelSignature = {
  name: "iris",
  version: "1",
  inputs: [{ name: "input", datatype: "FP32", shape: [-1, 4] }],
  outputs: [{ name: "probabilities", datatype: "FP32", shape: [-1, 3] }],
  classes: ["setosa", "versicolor", "virginica"],
  metadata: {},
};

const TWO_INPUTS: ModelSignature = {
  name: "pair",
  version: "1",
  inputs: [
    { name: "ids", datatype: "INT64", shape: [-1] },
    { name: "mask", datatype: "BOOL", shape: [-1] },
  ],
  outputs: [
    { name: "a", datatype: "FP32", shape: [-1] },
    { name: "b", datatype: "INT32", shape: [-1, 2] },
  ],
  classes: undefined,
  metadata: {},
};

function rejects(fn: () => unknown, status: number, code: string, message: RegExp): void {
  assert.throws(fn, (error: unknown) => {
    assert.ok(error instanceof RequestError, String(error));
    assert.equal(error.status, status);
    assert.equal(error.code, code);
    assert.match(error.message, message);
    return true;
  });
}

describe("tensors", () => {
  it("flattens nested data row-major", () => {
    assert.deepEqual(
      flatten([
        [1, 2],
        [3, 4],
      ]),
      [1, 2, 3, 4],
    );
    assert.deepEqual(flatten([1, 2]), [1, 2]);
    assert.deepEqual(flatten(5), [5]);
  });

  it("finds the shape of rectangular nested arrays and refuses ragged ones", () => {
    assert.deepEqual(
      shapeOfNested(
        [
          [[1], [2]],
          [[3], [4]],
        ],
        "x",
      ),
      [2, 2, 1],
    );
    assert.deepEqual(shapeOfNested([], "x"), [0]);
    rejects(() => shapeOfNested([[1, 2], [3]], "instances"), 400, "wrong_shape", /instances is ragged/);
    rejects(() => shapeOfNested([[1, 2], 3], "instances"), 400, "wrong_shape", /ragged/);
  });

  const conversions: ReadonlyArray<[string, Parameters<typeof encodeElements>[0], unknown[], unknown[]]> = [
    ["FP32", "FP32", [1.5, -2], [1.5, -2]],
    ["FP64", "FP64", [0.1], [0.1]],
    ["INT8", "INT8", [-128, 127], [-128, 127]],
    ["UINT16", "UINT16", [65535], [65535]],
    ["INT64 from numbers and strings", "INT64", [3, "-9007199254740993"], [3, -9007199254740992]],
    ["BOOL", "BOOL", [true, false], [true, false]],
    ["BYTES", "BYTES", ["a", "b"], ["a", "b"]],
  ];
  for (const [name, datatype, input, output] of conversions) {
    it(`round-trips ${name}`, () => {
      assert.deepEqual(decodeElements(datatype, encodeElements(datatype, input, "x")), output);
    });
  }

  const badElements: ReadonlyArray<[Parameters<typeof encodeElements>[0], unknown[], RegExp]> = [
    ["FP32", [1, "2"], /element 1 is "2", expected a number/],
    ["INT8", [200], /element 0 is 200, expected an integer in \[-128, 127\]/],
    ["INT32", [1.5], /expected an integer/],
    ["UINT64", [-1], /non-negative integer in 64 bits/],
    ["INT64", [1e20], /expected an integer/],
    ["BOOL", [1], /expected true or false/],
    ["BYTES", [1], /expected a string/],
  ];
  for (const [datatype, values, message] of badElements) {
    it(`refuses bad ${datatype} elements`, () => rejects(() => encodeElements(datatype, values, "input 'x'"), 400, "wrong_data", message));
  }

  it("refuses FP16 as unsupported", () => {
    rejects(() => encodeElements("FP16", [1], "input 'h'"), 400, "unsupported_datatype", /FP16 is not supported/);
  });

  it("turns non-finite floats into null", () => {
    assert.deepEqual(decodeElements("FP32", Float32Array.from([NaN, Infinity, 1])), [null, null, 1]);
  });
});

describe("v2 infer requests", () => {
  it("decodes flat and nested data", () => {
    for (const data of [
      [5.1, 3.5, 1.4, 0.2, 6, 3, 4.8, 1.8],
      [
        [5.1, 3.5, 1.4, 0.2],
        [6, 3, 4.8, 1.8],
      ],
    ]) {
      const request = decodeInferRequest({ id: "r1", inputs: [{ name: "input", shape: [2, 4], datatype: "FP32", data }] }, IRIS);
      assert.equal(request.id, "r1");
      assert.deepEqual(request.outputs, ["probabilities"]);
      assert.deepEqual(request.inputs[0]?.shape, [2, 4]);
      assert.deepEqual([...(request.inputs[0]?.data as Float32Array)], [...Float32Array.from([5.1, 3.5, 1.4, 0.2, 6, 3, 4.8, 1.8])]);
    }
  });

  const input = (fields: Record<string, unknown>) => ({
    inputs: [{ name: "input", shape: [1, 4], datatype: "FP32", data: [1, 2, 3, 4], ...fields }],
  });
  const errors: ReadonlyArray<[string, unknown, string, RegExp]> = [
    ["a body without inputs", { foo: 1 }, "bad_request", /'inputs' array/],
    ["an array body", [1, 2], "bad_request", /'inputs' array/],
    ["an unknown input name", input({ name: "x" }), "unknown_input", /unknown input 'x'; model 'iris' has inputs 'input'/],
    ["a wrong datatype", input({ datatype: "FP64" }), "wrong_datatype", /input 'input' has datatype FP64 but the model expects FP32/],
    ["an unknown datatype", input({ datatype: "FLOAT" }), "wrong_datatype", /"FLOAT" is not a v2 datatype/],
    ["a wrong rank", input({ shape: [4] }), "wrong_shape", /shape \[4\] \(rank 1\) but model input 'input' expects \[N,4\] \(rank 2\)/],
    ["a wrong feature count", input({ shape: [1, 3], data: [1, 2, 3] }), "wrong_shape", /expects \[N,4\]: dimension 1 must be 4/],
    ["data not matching the shape", input({ shape: [2, 4] }), "wrong_shape", /shape \[2,4\] needs 8 values, data has 4/],
    ["a negative dimension", input({ shape: [-1, 4] }), "wrong_shape", /non-negative integers/],
    ["missing data", input({ data: undefined }), "wrong_data", /data is missing/],
    ["a string element", input({ data: [1, 2, "3", 4] }), "wrong_data", /element 2 is "3", expected a number/],
    ["a missing name", { inputs: [{ shape: [1, 4] }] }, "bad_request", /inputs\[0\].name must be a string/],
    ["an unknown output", { ...input({}), outputs: [{ name: "label" }] }, "unknown_output", /unknown output 'label'/],
    ["a numeric id", { ...input({}), id: 5 }, "bad_request", /'id' must be a string/],
  ];
  for (const [name, body, code, message] of errors) {
    it(`refuses ${name}`, () => rejects(() => decodeInferRequest(body, IRIS), 400, code, message));
  }

  it("refuses duplicate and missing inputs", () => {
    const ids = { name: "ids", shape: [1], datatype: "INT64", data: [1] };
    rejects(() => decodeInferRequest({ inputs: [ids] }, TWO_INPUTS), 400, "missing_input", /missing input 'mask'/);
    rejects(() => decodeInferRequest({ inputs: [ids, ids] }, TWO_INPUTS), 400, "bad_request", /given twice/);
  });

  it("honours the requested outputs", () => {
    const request = decodeInferRequest(
      {
        inputs: [
          { name: "ids", shape: [2], datatype: "INT64", data: [1, 2] },
          { name: "mask", shape: [2], datatype: "BOOL", data: [true, false] },
        ],
        outputs: [{ name: "b" }],
      },
      TWO_INPUTS,
    );
    assert.deepEqual(request.outputs, ["b"]);
    assert.deepEqual([...(request.inputs[0]?.data as BigInt64Array)], [1n, 2n]);
  });

  it("encodes responses and metadata", () => {
    const outputs: Tensor[] = [{ name: "probabilities", datatype: "FP32", shape: [1, 3], data: Float32Array.from([0.5, 0.25, 0.25]) }];
    assert.deepEqual(encodeInferResponse(IRIS, "r9", outputs), {
      model_name: "iris",
      model_version: "1",
      id: "r9",
      outputs: [{ name: "probabilities", datatype: "FP32", shape: [1, 3], data: [0.5, 0.25, 0.25] }],
    });
    assert.deepEqual(modelMetadata(IRIS), {
      name: "iris",
      versions: ["1"],
      platform: "onnxruntime",
      inputs: [{ name: "input", datatype: "FP32", shape: [-1, 4] }],
      outputs: [{ name: "probabilities", datatype: "FP32", shape: [-1, 3] }],
    });
  });
});

describe("plain predict", () => {
  it("accepts {instances}, a bare array of rows, or a single bare row", () => {
    for (const [body, rows] of [
      [{ instances: [[1, 2, 3, 4]] }, 1],
      [
        [
          [1, 2, 3, 4],
          [5, 6, 7, 8],
        ],
        2,
      ],
      [[1, 2, 3, 4], 1],
    ] as const) {
      const tensor = decodePredictRequest(body, IRIS);
      assert.equal(tensor.name, "input");
      assert.deepEqual(tensor.shape, [rows, 4]);
    }
  });

  const errors: ReadonlyArray<[string, unknown, string, RegExp]> = [
    ["an object without instances", { rows: [] }, "bad_request", /expected \{"instances"/],
    ["instances that are not an array", { instances: 5 }, "bad_request", /'instances' must be an array/],
    ["no instances", { instances: [] }, "bad_request", /'instances' is empty/],
    [
      "ragged rows",
      [
        [1, 2, 3, 4],
        [1, 2],
      ],
      "wrong_shape",
      /ragged/,
    ],
    ["rows of 3 features", [[1, 2, 3]], "wrong_shape", /instances has shape \[1,3\] but model input 'input' expects \[N,4\]/],
    ["non-numbers", [[1, 2, 3, "x"]], "wrong_data", /instances: element 3 is "x"/],
  ];
  for (const [name, body, code, message] of errors) {
    it(`refuses ${name}`, () => rejects(() => decodePredictRequest(body, IRIS), 400, code, message));
  }

  it("refuses models with several inputs, pointing at the v2 API", () => {
    rejects(() => decodePredictRequest([[1]], TWO_INPUTS), 400, "bad_request", /use the v2 API POST \/v2\/models\/pair\/infer/);
  });

  it("labels classifier rows with class names and probabilities", () => {
    const outputs: Tensor[] = [
      { name: "probabilities", datatype: "FP32", shape: [2, 3], data: Float32Array.from([0.5, 0.25, 0.25, 0, 0.25, 0.75]) },
    ];
    assert.deepEqual(encodePredictions(IRIS, outputs), {
      model_name: "iris",
      predictions: [
        { label: "setosa", probabilities: [0.5, 0.25, 0.25] },
        { label: "virginica", probabilities: [0, 0.25, 0.75] },
      ],
    });
  });

  it("labels with the class index when the model names no classes", () => {
    const outputs: Tensor[] = [{ name: "probabilities", datatype: "FP32", shape: [1, 2], data: Float32Array.from([0.25, 0.75]) }];
    assert.deepEqual(encodePredictions({ ...IRIS, classes: undefined }, outputs).predictions, [{ label: 1, probabilities: [0.25, 0.75] }]);
  });

  it("returns rows of other outputs, keyed by name when there are several", () => {
    const a: Tensor = { name: "a", datatype: "FP32", shape: [2], data: Float32Array.from([1, 2]) };
    const b: Tensor = { name: "b", datatype: "INT32", shape: [2, 2], data: Int32Array.from([1, 2, 3, 4]) };
    assert.deepEqual(encodePredictions(TWO_INPUTS, [a]).predictions, [1, 2]);
    assert.deepEqual(encodePredictions(TWO_INPUTS, [a, b]).predictions, [
      { a: 1, b: [1, 2] },
      { a: 2, b: [3, 4] },
    ]);
  });
});

import { describe, it } from "node:test";
import assert from "node:assert/strict";
import onnxProto from "onnx-proto";
import { classNamesOf, OnnxParseError, readOnnxModelInfo } from "./onnx-metadata.js";

const { onnx } = onnxProto;

function encodeModel(fields: onnxProto.onnx.IModelProto): Uint8Array {
  return onnx.ModelProto.encode(onnx.ModelProto.create(fields)).finish();
}

describe("readOnnxModelInfo", () => {
  it("reads the top-level fields and metadata_props, skipping the graph", () => {
    const bytes = encodeModel({
      irVersion: 7,
      producerName: "tests",
      producerVersion: "2.0",
      domain: "ai.eas",
      modelVersion: 12,
      docString: "a doc",
      opsetImport: [{ domain: "", version: 13 }],
      graph: {
        name: "g",
        initializer: [{ name: "w", dims: [2], dataType: 1, rawData: new Uint8Array(8) }],
        node: [{ opType: "Identity", input: ["x"], output: ["y"] }],
      },
      metadataProps: [
        { key: "classes", value: `["a","b"]` },
        { key: "author", value: "Ünïcode" },
      ],
    });
    assert.deepEqual(readOnnxModelInfo(bytes), {
      irVersion: 7,
      producerName: "tests",
      producerVersion: "2.0",
      domain: "ai.eas",
      modelVersion: 12,
      docString: "a doc",
      metadataProps: { classes: `["a","b"]`, author: "Ünïcode" },
    });
  });

  it("gives empty metadata for a model without any", () => {
    assert.deepEqual(readOnnxModelInfo(encodeModel({ irVersion: 8 })).metadataProps, {});
  });

  it("rejects truncated bytes with the offset", () => {
    const bytes = encodeModel({ producerName: "truncated here", metadataProps: [{ key: "k", value: "v" }] });
    assert.throws(() => readOnnxModelInfo(bytes.subarray(0, 6)), OnnxParseError);
  });

  it("rejects bytes that are not protobuf", () => {
    assert.throws(() => readOnnxModelInfo(new TextEncoder().encode("not a model at all")), OnnxParseError);
  });
});

describe("classNamesOf", () => {
  const cases: ReadonlyArray<[string, Record<string, string>, readonly string[] | undefined]> = [
    ["a JSON array in classes", { classes: `["setosa","versicolor"]` }, ["setosa", "versicolor"]],
    ["numeric class ids", { classes: "[0,1,2]" }, ["0", "1", "2"]],
    ["a comma-separated list", { classes: "cat, dog" }, ["cat", "dog"]],
    ["the labels key", { labels: `["x"]` }, ["x"]],
    ["no metadata", {}, undefined],
    ["broken JSON", { classes: "[nope" }, undefined],
    ["a JSON array of objects", { classes: `[{"a":1}]` }, undefined],
  ];
  for (const [name, metadata, expected] of cases) {
    it(`handles ${name}`, () => assert.deepEqual(classNamesOf(metadata), expected));
  }
});

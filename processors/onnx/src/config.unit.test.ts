import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { DEFAULT_ONNX_CONFIG, parseOnnxConfig } from "./config.js";
import { OnnxConfigError } from "./errors.js";

describe("parseOnnxConfig", () => {
  it("gives the defaults for missing or empty text", () => {
    assert.deepEqual(parseOnnxConfig(undefined), { config: DEFAULT_ONNX_CONFIG, warnings: [] });
    assert.deepEqual(parseOnnxConfig(""), { config: DEFAULT_ONNX_CONFIG, warnings: [] });
  });

  it("reads every key", () => {
    const { config, warnings } = parseOnnxConfig(
      JSON.stringify({
        intra_op_num_threads: 2,
        inter_op_num_threads: 3,
        graph_optimization_level: "basic",
        max_body_bytes: 1000,
        classes: ["a", "b"],
        extra: true,
      }),
    );
    assert.deepEqual(config, {
      intraOpNumThreads: 2,
      interOpNumThreads: 3,
      graphOptimizationLevel: "basic",
      maxBodyBytes: 1000,
      classes: ["a", "b"],
    });
    assert.deepEqual(warnings, ["unknown onnx config key 'extra' ignored"]);
  });

  const invalid: ReadonlyArray<[string, RegExp]> = [
    ["{", /not valid JSON/],
    ["[]", /must be a JSON object/],
    [`{"intra_op_num_threads":-1}`, /'intra_op_num_threads' must be an integer/],
    [`{"graph_optimization_level":"max"}`, /must be one of disabled, basic, extended, all/],
    [`{"classes":[]}`, /'classes' must be a non-empty array of strings/],
    [`{"classes":[1]}`, /'classes'/],
    [`{"max_body_bytes":0}`, /'max_body_bytes'/],
  ];
  for (const [text, message] of invalid) {
    it(`rejects ${text}`, () => {
      assert.throws(
        () => parseOnnxConfig(text),
        (error: unknown) => error instanceof OnnxConfigError && message.test(error.message),
      );
    });
  }
});

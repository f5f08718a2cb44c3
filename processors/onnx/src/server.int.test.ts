import { describe, it, before, after } from "node:test";
import assert from "node:assert/strict";
import { copyFile, mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import onnxProto from "onnx-proto";
import { ModelLoadError } from "./errors.js";
import { createOnnxServer, type OnnxServer, type OnnxServerOptions } from "./server.js";

const { onnx } = onnxProto;
const IRIS_MODEL = fileURLToPath(new URL("../demo/iris.onnx", import.meta.url));
const DEMO_DIR = fileURLToPath(new URL("../demo/", import.meta.url));

/** A model with INT64, BOOL and FP64 inputs (Identity, Not, Neg), to test datatypes through onnxruntime. */
function mixedTypesModel(): Uint8Array {
  const { DataType } = onnx.TensorProto;
  const info = (name: string, elemType: number, dims: Array<number | string>) => ({
    name,
    type: { tensorType: { elemType, shape: { dim: dims.map((d) => (typeof d === "string" ? { dimParam: d } : { dimValue: d })) } } },
  });
  return onnx.ModelProto.encode(
    onnx.ModelProto.create({
      irVersion: 8,
      opsetImport: [{ domain: "", version: 13 }],
      producerName: "eas-tests",
      graph: {
        name: "mixed",
        node: [
          { opType: "Identity", input: ["ids"], output: ["ids_out"] },
          { opType: "Not", input: ["flags"], output: ["not_flags"] },
          { opType: "Neg", input: ["x"], output: ["neg_x"] },
        ],
        input: [info("ids", DataType.INT64, ["N"]), info("flags", DataType.BOOL, ["N"]), info("x", DataType.DOUBLE, ["N", 2])],
        output: [info("ids_out", DataType.INT64, ["N"]), info("not_flags", DataType.BOOL, ["N"]), info("neg_x", DataType.DOUBLE, ["N", 2])],
      },
    }),
  ).finish();
}

describe("onnx server", () => {
  let dir: string;
  const servers: OnnxServer[] = [];

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), "eas-onnx-"));
  });
  after(async () => {
    await Promise.all(servers.map((server) => server.close()));
    await rm(dir, { recursive: true, force: true });
  });

  async function start(options: Partial<OnnxServerOptions> = {}): Promise<string> {
    const server = createOnnxServer({ modelPath: IRIS_MODEL, modelName: "iris", ...options });
    servers.push(server);
    const { port } = await server.listen(0, "127.0.0.1");
    return `http://127.0.0.1:${port}`;
  }

  async function call(
    base: string,
    path: string,
    init: { method?: string; body?: string } = {},
  ): Promise<{ status: number; body: Record<string, unknown>; headers: Headers }> {
    const res = await fetch(`${base}${path}`, { ...init, signal: AbortSignal.timeout(5_000) });
    return { status: res.status, body: (await res.json()) as Record<string, unknown>, headers: res.headers };
  }

  const infer = (base: string, body: unknown, model = "iris") =>
    call(base, `/v2/models/${model}/infer`, { method: "POST", body: JSON.stringify(body) });

  describe("health and metadata", () => {
    let base: string;
    before(async () => {
      base = await start();
    });

    it("is live and ready", async () => {
      assert.deepEqual((await call(base, "/v2/health/live")).body, { live: true });
      assert.deepEqual((await call(base, "/v2/health/ready")).body, { ready: true });
      assert.equal((await call(base, "/healthz")).status, 200);
      assert.deepEqual((await call(base, "/v2/models/iris/ready")).body, { name: "iris", ready: true });
    });

    it("describes the server", async () => {
      const { body } = await call(base, "/v2");
      assert.equal(body.name, "eas-onnx-processor");
      assert.deepEqual(body.extensions, []);
    });

    it("serves the model under its version path too", async () => {
      assert.equal((await call(base, "/v2/models/iris/versions/1")).status, 200);
      const { status } = await call(base, "/v2/models/iris/versions/1/infer", {
        method: "POST",
        body: JSON.stringify({ inputs: [{ name: "input", shape: [1, 4], datatype: "FP32", data: [5.1, 3.5, 1.4, 0.2] }] }),
      });
      assert.equal(status, 200);
    });

    it("answers 404 naming the served model for unknown models and versions", async () => {
      for (const path of ["/v2/models/resnet", "/v2/models/resnet/ready"]) {
        const { status, body } = await call(base, path);
        assert.equal(status, 404);
        assert.equal(body.code, "model_not_found");
        assert.match(String(body.error), /model 'resnet' not found; this server serves 'iris'/);
      }
      const unknownInfer = await infer(base, { inputs: [] }, "resnet");
      assert.equal(unknownInfer.status, 404);
      const version = await call(base, "/v2/models/iris/versions/7");
      assert.equal(version.status, 404);
      assert.match(String(version.body.error), /no version '7'/);
    });

    it("answers 404 for unknown paths and 405 for wrong methods", async () => {
      const unknown = await call(base, "/v3/nothing");
      assert.equal(unknown.status, 404);
      assert.equal(unknown.body.code, "not_found");
      const wrongMethod = await call(base, "/v2/models/iris/infer");
      assert.equal(wrongMethod.status, 405);
      assert.equal(wrongMethod.headers.get("allow"), "POST");
    });
  });

  describe("request errors", () => {
    let base: string;
    before(async () => {
      base = await start({ config: { maxBodyBytes: 4096 } });
    });

    const row = { name: "input", shape: [1, 4], datatype: "FP32", data: [5.1, 3.5, 1.4, 0.2] };
    const cases: ReadonlyArray<[string, unknown, string, RegExp]> = [
      ["a wrong shape", { inputs: [{ ...row, shape: [1, 3], data: [1, 2, 3] }] }, "wrong_shape", /dimension 1 must be 4/],
      ["a wrong rank", { inputs: [{ ...row, shape: [4] }] }, "wrong_shape", /expects \[N,4\] \(rank 2\)/],
      ["a shape the data does not fill", { inputs: [{ ...row, shape: [2, 4] }] }, "wrong_shape", /needs 8 values, data has 4/],
      ["a wrong datatype", { inputs: [{ ...row, datatype: "INT32" }] }, "wrong_datatype", /INT32 but the model expects FP32/],
      ["an unknown input name", { inputs: [{ ...row, name: "features" }] }, "unknown_input", /unknown input 'features'/],
      ["no inputs", { inputs: [] }, "missing_input", /missing input 'input'/],
      ["a non-numeric element", { inputs: [{ ...row, data: [1, null, 3, 4] }] }, "wrong_data", /element 1 is null/],
    ];
    for (const [name, body, code, message] of cases) {
      it(`answers 400 for ${name}`, async () => {
        const { status, body: error } = await infer(base, body);
        assert.equal(status, 400);
        assert.equal(error.code, code);
        assert.match(String(error.error), message);
      });
    }

    it("answers 400 for bad JSON on both APIs", async () => {
      for (const path of ["/v2/models/iris/infer", "/predict", "/"]) {
        const { status, body } = await call(base, path, { method: "POST", body: "{not json" });
        assert.equal(status, 400, path);
        assert.equal(body.code, "bad_json");
        assert.match(String(body.error), /not valid JSON/);
      }
    });

    it("answers 400 for plain bodies of the wrong shape", async () => {
      const { status, body } = await call(base, "/predict", { method: "POST", body: JSON.stringify({ instances: [[1, 2]] }) });
      assert.equal(status, 400);
      assert.match(String(body.error), /instances has shape \[1,2\] but model input 'input' expects \[N,4\]/);
    });

    it("answers 413 for bodies over max_body_bytes", async () => {
      const rows = Array.from({ length: 300 }, () => [5.1, 3.5, 1.4, 0.2]);
      const { status, body } = await call(base, "/predict", { method: "POST", body: JSON.stringify({ instances: rows }) });
      assert.equal(status, 413);
      assert.equal(body.code, "body_too_large");
    });
  });

  describe("datatypes through onnxruntime", () => {
    it("round-trips INT64, BOOL and FP64 tensors and honours requested outputs", async () => {
      const modelFile = join(dir, "mixed.onnx");
      await writeFile(modelFile, mixedTypesModel());
      const base = await start({ modelPath: modelFile, modelName: "mixed" });
      const inputs = [
        { name: "ids", shape: [3], datatype: "INT64", data: [1, -2, "9007199254740991"] },
        { name: "flags", shape: [3], datatype: "BOOL", data: [true, false, true] },
        {
          name: "x",
          shape: [3, 2],
          datatype: "FP64",
          data: [
            [0.5, -1],
            [2, 3],
            [0.25, 1e-300],
          ],
        },
      ];
      const all = await infer(base, { inputs }, "mixed");
      assert.equal(all.status, 200, JSON.stringify(all.body));
      assert.deepEqual(all.body.outputs, [
        { name: "ids_out", datatype: "INT64", shape: [3], data: [1, -2, 9007199254740991] },
        { name: "not_flags", datatype: "BOOL", shape: [3], data: [false, true, false] },
        { name: "neg_x", datatype: "FP64", shape: [3, 2], data: [-0.5, 1, -2, -3, -0.25, -1e-300] },
      ]);
      const some = await infer(base, { inputs, outputs: [{ name: "not_flags" }] }, "mixed");
      assert.deepEqual(
        (some.body.outputs as Array<{ name: string }>).map((output) => output.name),
        ["not_flags"],
      );
      const metadata = await call(base, "/v2/models/mixed");
      assert.deepEqual(metadata.body.inputs, [
        { name: "ids", datatype: "INT64", shape: [-1] },
        { name: "flags", datatype: "BOOL", shape: [-1] },
        { name: "x", datatype: "FP64", shape: [-1, 2] },
      ]);
      const plain = await call(base, "/predict", { method: "POST", body: "[[1]]" });
      assert.equal(plain.status, 400);
      assert.match(String(plain.body.error), /has 3 inputs; use the v2 API/);
    });
  });

  describe("shutdown", () => {
    it("closes promptly with keep-alive clients connected, then refuses connections", async () => {
      const server = createOnnxServer({ modelPath: IRIS_MODEL, modelName: "iris" });
      const { port } = await server.listen(0, "127.0.0.1");
      const base = `http://127.0.0.1:${port}`;
      // fetch keeps the connection alive after this request.
      assert.equal((await call(base, "/v2/health/ready")).status, 200);
      const started = performance.now();
      await server.close();
      assert.ok(performance.now() - started < 1_000, "close waited for an idle keep-alive connection");
      await assert.rejects(fetch(`${base}/v2/health/live`, { signal: AbortSignal.timeout(2_000) }));
    });
  });

  describe("model loading", () => {
    it("serves a folder holding its only .onnx file", async () => {
      const base = await start({ modelPath: DEMO_DIR });
      assert.equal((await call(base, "/v2/models/iris/ready")).status, 200);
    });

    it("prefers model.onnx in a folder, and uses the classes config for unnamed classes", async () => {
      const folder = join(dir, "with-model");
      await mkdir(folder);
      await copyFile(IRIS_MODEL, join(folder, "model.onnx"));
      await copyFile(IRIS_MODEL, join(folder, "other.onnx"));
      const base = await start({ modelPath: folder, modelName: "model", config: { classes: ["a", "b", "c"] } });
      const { body } = await call(base, "/predict", { method: "POST", body: JSON.stringify({ instances: [[5.1, 3.5, 1.4, 0.2]] }) });
      assert.deepEqual(
        (body.predictions as Array<{ label: string }>).map((prediction) => prediction.label),
        ["a"],
      );
    });

    const failures: ReadonlyArray<[string, () => Promise<string>, RegExp]> = [
      ["a missing path", async () => join(dir, "nope.onnx"), /does not exist/],
      [
        "a folder with two models and no model.onnx",
        async () => {
          const folder = join(dir, "two");
          await mkdir(folder, { recursive: true });
          await copyFile(IRIS_MODEL, join(folder, "a.onnx"));
          await copyFile(IRIS_MODEL, join(folder, "b.onnx"));
          return folder;
        },
        /must hold model.onnx or exactly one .onnx file \(found: a.onnx, b.onnx\)/,
      ],
      [
        "a file that is not a model",
        async () => {
          const file = join(dir, "garbage.onnx");
          await writeFile(file, "this is not protobuf");
          return file;
        },
        /onnxruntime cannot load/,
      ],
    ];
    for (const [name, prepare, message] of failures) {
      it(`rejects listen with ModelLoadError for ${name}, releasing the port`, async () => {
        const server = createOnnxServer({ modelPath: await prepare() });
        await assert.rejects(server.listen(0, "127.0.0.1"), (error: unknown) => {
          assert.ok(error instanceof ModelLoadError, String(error));
          assert.match(error.message, message);
          return true;
        });
        await server.close();
      });
    }
  });
});

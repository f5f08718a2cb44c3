import { describe, it, afterEach } from "node:test";
import assert from "node:assert/strict";
import { fileURLToPath } from "node:url";
import { ProcessorChildren, within, type ProcessorChild } from "@eas/processor-kit/testing";

const DEMO_DIR = fileURLToPath(new URL("../demo/", import.meta.url));
const children = new ProcessorChildren(fileURLToPath(new URL("./main.ts", import.meta.url)));
afterEach(() => children.killAll());
const run = (env: Record<string, string>): ProcessorChild => children.start(env);

describe("onnx processor main (child process)", () => {
  it("loads the model from EAS_MODEL_PATH, serves it as EAS_MODEL_NAME and exits 0 on SIGTERM", async () => {
    const child = run({ EAS_MODEL_PATH: DEMO_DIR, EAS_MODEL_NAME: "iris", EAS_PROCESSOR_CONFIG: `{"intra_op_num_threads":1}` });
    const listening = await child.waitForLog("listening", 20_000);
    assert.equal(listening.processor, "onnx");
    assert.equal(listening.model, "iris");
    const base = `http://127.0.0.1:${String(listening.port)}`;

    const ready = await fetch(`${base}/v2/models/iris/ready`, { signal: AbortSignal.timeout(5_000) });
    assert.equal(ready.status, 200);
    const res = await fetch(`${base}/predict`, {
      method: "POST",
      body: JSON.stringify({ instances: [[6.7, 3.0, 5.2, 2.3]] }),
      signal: AbortSignal.timeout(5_000),
    });
    assert.deepEqual(
      ((await res.json()) as { predictions: Array<{ label: string }> }).predictions.map((p) => p.label),
      ["virginica"],
    );

    child.child.kill("SIGTERM");
    assert.equal(await within(10_000, "exit after SIGTERM", child.exited), 0);
    assert.deepEqual(
      child.lines.map((line) => line.msg),
      ["model loaded", "listening", "stopping", "stopped"],
    );
  });

  it("exits 1 with a JSON error naming the path when the model is missing", async () => {
    const child = run({ EAS_MODEL_PATH: "/nonexistent/model.onnx" });
    assert.equal(await within(20_000, "exit", child.exited), 1);
    const error = child.lines.find((line) => line.level === "error");
    assert.match(String(error?.error), /model path '\/nonexistent\/model.onnx' does not exist/);
  });

  it("exits 1 when EAS_MODEL_PATH is not set", async () => {
    const child = run({ EAS_MODEL_PATH: "" });
    assert.equal(await within(20_000, "exit", child.exited), 1);
    assert.match(String(child.lines.find((line) => line.level === "error")?.error), /EAS_MODEL_PATH is not set/);
  });
});

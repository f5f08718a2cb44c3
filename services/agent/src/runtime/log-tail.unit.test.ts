import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { LogTail, readableLogLine } from "./log-tail.js";

describe("LogTail", () => {
  it("splits chunks into lines per stream and keeps partial lines until their newline", () => {
    const tail = new LogTail(10);
    tail.push("stdout", "hello wo", 1);
    tail.push("stderr", "oops\r\n", 2);
    tail.push("stdout", "rld\nnext", 3);
    assert.deepEqual(tail.lines(), [
      { stream: "stderr", text: "oops", at: 2 },
      { stream: "stdout", text: "hello world", at: 3 },
    ]);
    tail.flush(4);
    assert.deepEqual(tail.lines(1), [{ stream: "stdout", text: "next", at: 4 }]);
  });
  it("keeps only the last capacity lines", () => {
    const tail = new LogTail(2);
    tail.push("stdout", "a\nb\nc\n", 1);
    assert.deepEqual(
      tail.lines().map((line) => line.text),
      ["b", "c"],
    );
    assert.deepEqual(tail.lines(0), []);
  });
  it("cuts a runaway line", () => {
    const tail = new LogTail(10);
    tail.push("stdout", "x".repeat(40 * 1024), 1);
    assert.equal(tail.lines().length, 2);
  });
});

describe("readableLogLine", () => {
  const rows: [string, string, string][] = [
    [
      "a plain line stays as it is",
      "Traceback: ModuleNotFoundError: No module named 'torch'",
      "Traceback: ModuleNotFoundError: No module named 'torch'",
    ],
    [
      "a pino line shows message and error",
      '{"level":"error","msg":"echo processor failed to start","error":"bad latency_ms"}',
      "echo processor failed to start: bad latency_ms",
    ],
    ["a pino line with an err object", '{"msg":"boom","err":{"type":"Error","message":"ENOENT model.onnx"}}', "boom: ENOENT model.onnx"],
    ["a Python JSON logger line", '{"message":"model load failed","levelname":"ERROR"}', "model load failed"],
    ["JSON without message fields stays whole", '{"a":1}', '{"a":1}'],
    ["text that only looks like JSON stays whole", "{not json", "{not json"],
  ];
  for (const [name, line, expected] of rows) it(name, () => assert.equal(readableLogLine(line), expected));
});

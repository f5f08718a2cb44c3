import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { createEchoRenderer, echoJsonOf } from "./response.js";

describe("createEchoRenderer", () => {
  it("renders echo, path, instance and version", () => {
    const renderer = createEchoRenderer({ instanceId: "i-1", version: "v2", responseBytes: 0 });
    assert.deepEqual(JSON.parse(renderer.render(`{"a":1}`, "/x")), {
      echo: { a: 1 },
      path: "/x",
      instance: "i-1",
      version: "v2",
    });
  });

  it("reports a missing instance and version as null", () => {
    const renderer = createEchoRenderer({ instanceId: undefined, version: undefined, responseBytes: 0 });
    assert.deepEqual(JSON.parse(renderer.render(`"hi"`, "/")), { echo: "hi", path: "/", instance: null, version: null });
  });

  it("pads to exactly the configured size with valid JSON, whatever the gap", () => {
    const base = createEchoRenderer({ instanceId: "i", version: "v", responseBytes: 0 }).render(`"é"`, "/p");
    const baseBytes = Buffer.byteLength(base);
    // Gaps of 1..9 bytes cannot hold the pad field and use trailing whitespace instead.
    for (const extra of [0, 1, 5, 8, 9, 10, 11, 500, 4096]) {
      const target = baseBytes + extra;
      const text = createEchoRenderer({ instanceId: "i", version: "v", responseBytes: target }).render(`"é"`, "/p");
      assert.equal(Buffer.byteLength(text), target, `target ${target}`);
      assert.equal((JSON.parse(text) as { echo: string }).echo, "é");
    }
  });

  it("leaves answers larger than the target as they are", () => {
    const text = createEchoRenderer({ instanceId: "i", version: "v", responseBytes: 10 }).render(`"long enough"`, "/");
    assert.ok(Buffer.byteLength(text) > 10);
    assert.equal((JSON.parse(text) as { echo: string }).echo, "long enough");
  });

  it("renders stream chunks with their index", () => {
    const renderer = createEchoRenderer({ instanceId: "i", version: "v", responseBytes: 100 });
    assert.deepEqual(JSON.parse(renderer.renderChunk(3, "[1]")), { index: 3, echo: [1], instance: "i", version: "v" });
  });
});

describe("echoJsonOf", () => {
  const cases: ReadonlyArray<[string, string, string | undefined, unknown]> = [
    ["JSON bodies as JSON", `{"k":[1,2]}`, "application/json", { k: [1, 2] }],
    ["JSON with a charset", `[true]`, "application/json; charset=utf-8", [true]],
    ["text bodies as text", "plain", "text/plain", "plain"],
    ["bodies without a content type as text", `{"k":1}`, undefined, `{"k":1}`],
    ["invalid JSON as text", "{nope", "application/json", "{nope"],
    ["empty bodies as an empty string", "", "application/json", ""],
  ];
  for (const [name, body, contentType, expected] of cases) {
    it(`echoes ${name}`, () => {
      assert.deepEqual(JSON.parse(echoJsonOf(Buffer.from(body), contentType)), expected);
    });
  }
});

import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { isObjectUrl, ObjectUrlError, parseObjectUrl } from "./object-url.js";

describe("parseObjectUrl", () => {
  for (const [url, expected] of [
    ["obj://models/iris.onnx", { bucket: "models", key: "iris.onnx", prefix: false }],
    ["obj://models/text-cls/", { bucket: "models", key: "text-cls/", prefix: true }],
    ["obj://models", { bucket: "models", key: "", prefix: true }],
    ["obj://my_bucket-2/a/b/c.bin", { bucket: "my_bucket-2", key: "a/b/c.bin", prefix: false }],
  ] as const) {
    it(`reads ${url}`, () => assert.deepEqual(parseObjectUrl(url), expected));
  }

  for (const [what, url, message] of [
    ["another scheme", "file:///tmp/x", /must be obj:\/\/bucket\/key/],
    ["no bucket", "obj:///key", /invalid bucket name ""/],
    ["a dot in the bucket", "obj://a.b/key", /invalid bucket name "a.b"/],
  ] as const) {
    it(`rejects ${what}`, () => {
      assert.throws(
        () => parseObjectUrl(url),
        (error: unknown) => error instanceof ObjectUrlError && error.url === url && message.test(error.message),
      );
    });
  }

  it("tells an obj:// URL by its scheme", () => {
    assert.equal(isObjectUrl("obj://m/k"), true);
    assert.equal(isObjectUrl("/abs/path"), false);
  });
});

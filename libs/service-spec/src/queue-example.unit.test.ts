import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { describe, it } from "node:test";

import { parseServiceDocument } from "./parse.js";
import { valueOf } from "./testing/spec-documents.js";

// Keeps examples/async-echo.json (README's async example) valid and async.
describe("examples/async-echo.json", () => {
  it("is a valid async service with its queue settings and no warning", () => {
    const text = readFileSync(new URL("../../../examples/async-echo.json", import.meta.url), "utf8");
    const { value, warnings } = valueOf(parseServiceDocument(text));
    assert.deepEqual(warnings, []);
    assert.deepEqual(value.async, {
      maxLength: 1_000,
      maxPayloadBytes: 256 * 1024,
      maxAttempts: 3,
      requestTimeoutMs: 30_000,
      resultRetentionSeconds: 3_600,
    });
  });
});

import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { isResourceId, resourceIdProblem } from "./identifiers.js";

describe("resource ids", () => {
  for (const id of ["n1", "node-1", "iris-v1-0a1b2c", "A_b-C", "7", "x".repeat(128)]) {
    it(`accepts ${JSON.stringify(id.length > 20 ? `${id.slice(0, 8)}... (${id.length})` : id)}`, () => {
      assert.equal(isResourceId(id), true);
      assert.equal(resourceIdProblem(id), undefined);
    });
  }

  for (const [what, id] of [
    ["a leading _", "_hidden"],
    ["a leading -", "-x"],
    ["a dot", "a.b"],
    ["a slash", "../escape"],
    ["a space", "a b"],
    ["a wildcard", "node*"],
    ["129 characters", "x".repeat(129)],
  ] as const) {
    it(`rejects ${what}`, () => {
      assert.equal(isResourceId(id), false);
      assert.match(resourceIdProblem(id) ?? "", /^must be 1-128 of \[A-Za-z0-9_-\], starting alphanumeric$/);
    });
  }

  it("asks for an id when it is empty", () => {
    assert.equal(resourceIdProblem(""), "is required");
  });
});

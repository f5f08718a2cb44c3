import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { EnvIntegerError, intFromEnv } from "./run.js";

describe("intFromEnv", () => {
  const cases: Array<{ given: string | undefined; expected: number }> = [
    { given: undefined, expected: 7 },
    { given: "", expected: 7 },
    { given: "0", expected: 0 },
    { given: "30000", expected: 30_000 },
  ];
  for (const { given, expected } of cases) {
    it(`reads ${JSON.stringify(given)} as ${String(expected)} (fallback 7)`, () => {
      assert.equal(intFromEnv({ X: given }, "X", 7), expected);
    });
  }

  for (const bad of ["-1", "1.5", "abc"]) {
    it(`rejects '${bad}' naming the variable`, () => {
      assert.throws(
        () => intFromEnv({ PORT: bad }, "PORT", 0),
        (error: unknown) =>
          error instanceof EnvIntegerError &&
          error.variable === "PORT" &&
          error.message === `PORT must be a non-negative integer, got '${bad}'`,
      );
    });
  }
});

import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { formatMoney, InvalidMoneyError, parseMoney } from "./money.js";

describe("parseMoney", () => {
  const cases: [string | number, number][] = [
    ["0", 0],
    ["1", 1_000_000],
    ["0.1", 100_000],
    ["0.000001", 1],
    ["12.5", 12_500_000],
    [" 3.25 ", 3_250_000],
    ["-3", -3_000_000],
    [0.04, 40_000],
    [1.2, 1_200_000],
    ["9007199254.740991", Number.MAX_SAFE_INTEGER],
  ];
  for (const [input, micros] of cases) {
    it(`reads ${JSON.stringify(input)} as ${micros} micro-units`, () => assert.equal(parseMoney(input, "amount"), micros));
  }

  for (const bad of ["", "abc", "1.0000001", "1e3", "1,5", ".5", "9007199254.740992", 1e-7, Number.NaN]) {
    it(`refuses ${JSON.stringify(bad)} naming the field`, () => {
      assert.throws(
        () => parseMoney(bad, "budget"),
        (error: unknown) => error instanceof InvalidMoneyError && error.field === "budget" && error.message.startsWith("budget: "),
      );
    });
  }
});

describe("formatMoney", () => {
  const cases: [number | bigint, string][] = [
    [0, "0.00"],
    [1_000_000, "1.00"],
    [1_234_500, "1.2345"],
    [1, "0.000001"],
    [-5, "-0.000005"],
    [123_456_789_000_000n, "123456789.00"],
  ];
  for (const [micros, text] of cases) {
    it(`writes ${micros} as ${text}`, () => assert.equal(formatMoney(micros), text));
  }

  it("round-trips with parseMoney", () => {
    for (const micros of [0, 1, 99, 40_000, 1_234_567, 987_654_321_012]) assert.equal(parseMoney(formatMoney(micros), "x"), micros);
  });
});

import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { InvalidEventError } from "./errors.js";
import { expectedFirstRevision, parseStreamName, satisfies, validateAppend } from "./stream-name.js";

describe("parseStreamName", () => {
  const valid: [string, string, string][] = [
    ["service-iris", "service", "iris"],
    ["instance-abc123", "instance", "abc123"],
    ["node-n1", "node", "n1"],
    ["instance-iris-7f9c-0", "instance", "iris-7f9c-0"],
    ["stress_test-ID_9", "stress_test", "ID_9"],
  ];
  for (const [stream, category, id] of valid) {
    it(`splits ${stream} at the first '-'`, () => {
      assert.deepEqual(parseStreamName(stream), { category, id });
    });
  }

  const invalid = ["", "service", "-iris", "service-", "a.b-c", "a-b.c", "a-b c", "a*-b", "a-b>", "$all-x", "a-ü", "x".repeat(201) + "-y"];
  for (const stream of invalid) {
    it(`rejects ${JSON.stringify(stream.slice(0, 20))}`, () => {
      assert.throws(() => parseStreamName(stream), InvalidEventError);
    });
  }
});

describe("expected revisions", () => {
  const table: [Parameters<typeof satisfies>[0], number, boolean][] = [
    ["any", -1, true],
    ["any", 4, true],
    ["no_stream", -1, true],
    ["no_stream", 0, false],
    ["stream_exists", -1, false],
    ["stream_exists", 0, true],
    [3, 3, true],
    [3, 2, false],
    [0, -1, false],
  ];
  for (const [expected, current, result] of table) {
    it(`${String(expected)} ${result ? "is" : "is not"} met by a stream at ${current}`, () => {
      assert.equal(satisfies(expected, current), result);
    });
  }

  it("pins the first revision of an append when it can", () => {
    assert.equal(expectedFirstRevision("no_stream"), 0);
    assert.equal(expectedFirstRevision(6), 7);
    assert.equal(expectedFirstRevision("any"), undefined);
    assert.equal(expectedFirstRevision("stream_exists"), undefined);
  });
});

describe("validateAppend", () => {
  it("accepts a well-formed batch and returns the stream's parts", () => {
    const name = validateAppend("service-iris", [{ id: "7d7c5b8e-1", type: "eas.v1.ServiceCreated", data: {} }], "no_stream");
    assert.deepEqual(name, { category: "service", id: "iris" });
  });

  it("rejects ids and types that are not header-safe", () => {
    assert.throws(() => validateAppend("service-iris", [{ id: "a b", type: "T", data: {} }], "any"), /event id/);
    assert.throws(() => validateAppend("service-iris", [{ id: "a", type: "T\n", data: {} }], "any"), /event type/);
    assert.throws(() => validateAppend("service-iris", [{ id: "a", type: "T", data: {}, time: new Date("x") }], "any"), /time/);
  });
});

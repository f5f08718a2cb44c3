import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { addCount, lineStatus, linesPerSecond, nextRun, noCounts, outputLine, readInputLine, totalCounted } from "./batch-lines.js";

describe("batch input lines", () => {
  it("takes any JSON value as a request body, a CR before the newline removed", () => {
    assert.deepEqual(readInputLine('{"x": 1}'), { kind: "request", body: '{"x": 1}' });
    assert.deepEqual(readInputLine("[1,2]\r"), { kind: "request", body: "[1,2]" });
    assert.deepEqual(readInputLine('"text"'), { kind: "request", body: '"text"' });
  });

  it("reports a line that is not JSON, or empty, with why", () => {
    assert.deepEqual(readInputLine("   "), { kind: "invalid", error: "empty line" });
    const broken = readInputLine('{"x": ');
    assert.equal(broken.kind, "invalid");
    assert.match(broken.kind === "invalid" ? broken.error : "", /^not valid JSON: /);
  });
});

describe("batch output lines", () => {
  const body = (text: string) => new TextEncoder().encode(text);

  it("carry the line number, its status, the code and the instance's answer as JSON", () => {
    assert.equal(
      outputLine(1, { kind: "answered", code: 200, body: body('{"y":2}') }),
      '{"line":1,"status":"ok","code":200,"output":{"y":2}}',
    );
    assert.equal(
      outputLine(2, { kind: "answered", code: 422, body: body("bad input") }),
      '{"line":2,"status":"error","code":422,"output":"bad input"}',
    );
    assert.equal(
      outputLine(3, { kind: "answered", code: 200, body: new Uint8Array([0xff]) }),
      '{"line":3,"status":"ok","code":200,"output":{"base64":"/w=="}}',
    );
  });

  it("carry the error of failed and invalid lines", () => {
    assert.equal(
      outputLine(4, { kind: "failed", error: "HTTP 500", attempts: 3 }),
      '{"line":4,"status":"failed","error":"HTTP 500","attempts":3}',
    );
    assert.equal(outputLine(5, { kind: "invalid", error: "empty line" }), '{"line":5,"status":"invalid","error":"empty line"}');
  });

  it("count each status", () => {
    let counts = noCounts();
    for (const outcome of [
      { kind: "answered", code: 201, body: body("") },
      { kind: "answered", code: 404, body: body("") },
      { kind: "failed", error: "x", attempts: 1 },
      { kind: "invalid", error: "y" },
      { kind: "answered", code: 200, body: body("") },
    ] as const) {
      counts = addCount(counts, lineStatus(outcome));
    }
    assert.deepEqual(counts, { ok: 2, error: 1, failed: 1, invalid: 1 });
    assert.equal(totalCounted(counts), 5);
  });
});

describe("committing outputs in input order", () => {
  const ready = new Map([
    [1, "a"],
    [2, "bb"],
    [3, "ccc"],
    [5, "e"],
  ]);

  it("takes the consecutive lines from the next one, stopping at the first missing", () => {
    assert.deepEqual(nextRun(1, ready, 100, 1_000), ["a", "bb", "ccc"]);
    assert.deepEqual(nextRun(4, ready, 100, 1_000), []);
    assert.deepEqual(nextRun(5, ready, 100, 1_000), ["e"]);
  });

  it("stops at the line and byte limits, but always takes one line", () => {
    assert.deepEqual(nextRun(1, ready, 2, 1_000), ["a", "bb"]);
    assert.deepEqual(nextRun(1, ready, 100, 5), ["a", "bb"]);
    assert.deepEqual(nextRun(3, ready, 100, 1), ["ccc"]);
  });
});

describe("lines per second", () => {
  it("is the slope over the samples in the window, 0 without two of them", () => {
    const samples = [
      { at: 0, done: 0 },
      { at: 5_000, done: 100 },
      { at: 10_000, done: 300 },
    ];
    assert.equal(linesPerSecond(samples, 10_000, 10_000), 30);
    assert.equal(linesPerSecond(samples, 5_000, 10_000), 40);
    assert.equal(linesPerSecond(samples.slice(0, 1), 10_000, 10_000), 0);
  });
});

import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { decodeTyped, encodeJson, type Codec, type Schema } from "./codec.js";
import { InvalidSubjectError } from "./errors.js";
import { defineEncodedSubject, defineSubject, fillWildcards, wildcardTokens } from "./subject.js";

interface Heartbeat {
  nodeId: string;
  at: number;
}

const heartbeatSchema: Schema<Heartbeat> = {
  parse(input) {
    const value = input as Partial<Heartbeat> | null;
    if (typeof value?.nodeId !== "string" || typeof value.at !== "number") throw new TypeError("not a heartbeat");
    return { nodeId: value.nodeId, at: value.at };
  },
};

describe("defineSubject", () => {
  it("fills wildcards left to right and keeps the pattern", () => {
    const command = defineSubject<{ op: string }>("eas.agent.*.command.*");
    assert.equal(command.concrete, false);
    const partly = command.with("node-1");
    assert.equal(partly.subject, "eas.agent.node-1.command.*");
    assert.equal(partly.concrete, false);
    const full = partly.with("start");
    assert.equal(full.subject, "eas.agent.node-1.command.start");
    assert.equal(full.pattern, "eas.agent.*.command.*");
    assert.equal(full.concrete, true);
    assert.equal(full.traced, true);
  });

  it("keeps the schema and the tracing choice through with()", () => {
    const heartbeat = defineSubject("eas.telemetry.heartbeat.*", heartbeatSchema, { traced: false }).with("n1");
    assert.deepEqual(heartbeat.codec.decode(encodeJson({ nodeId: "n1", at: 1, extra: true })), { nodeId: "n1", at: 1 });
    assert.throws(() => heartbeat.codec.decode(encodeJson({ nodeId: 1 })), /not a heartbeat/);
    assert.equal(heartbeat.traced, false);
  });

  it("defineEncodedSubject carries its own codec", () => {
    const bytes: Codec<number> = { encode: (n) => Uint8Array.of(n), decode: (data) => data[0] ?? Number.NaN };
    const sample = defineEncodedSubject("eas.metrics.*", bytes, { traced: false }).with("svc");
    assert.equal(sample.codec, bytes);
    assert.equal(sample.subject, "eas.metrics.svc");
    assert.deepEqual([...sample.codec.encode(7)], [7]);
  });

  const badPatterns: [string, string][] = [
    ["empty", ""],
    ["empty token", "eas..x"],
    ["tail wildcard not last", "eas.>.x"],
    ["whitespace", "eas.a b"],
    ["wildcard inside a token", "eas.a*"],
  ];
  for (const [name, pattern] of badPatterns) {
    it(`rejects a pattern with ${name}`, () => {
      assert.throws(() => defineSubject(pattern), InvalidSubjectError);
    });
  }

  const badTokens: [string, string[]][] = [
    ["an empty token", [""]],
    ["a dot", ["a.b"]],
    ["a wildcard", ["*"]],
    ["too many tokens", ["a", "b"]],
  ];
  for (const [name, tokens] of badTokens) {
    it(`rejects ${name} in with()`, () => {
      assert.throws(() => defineSubject("eas.x.*").with(...tokens), InvalidSubjectError);
    });
  }
});

describe("fillWildcards and wildcardTokens", () => {
  it("reads back what the wildcards matched", () => {
    const cases: [string, string, string[]][] = [
      ["eas.telemetry.heartbeat.*", "eas.telemetry.heartbeat.node-1", ["node-1"]],
      ["eas.*.x.*", "eas.a.x.b", ["a", "b"]],
      ["eas.metrics.>", "eas.metrics.svc.qps", ["svc.qps"]],
      ["eas.plain", "eas.plain", []],
    ];
    for (const [pattern, subject, tokens] of cases) assert.deepEqual(wildcardTokens(pattern, subject), tokens);
  });

  it("leaves '>' alone", () => {
    assert.equal(fillWildcards("eas.*.>", ["a"]), "eas.a.>");
  });
});

describe("codec", () => {
  it("round-trips JSON and treats an empty payload as undefined", () => {
    assert.deepEqual(decodeTyped(encodeJson({ a: [1, "b"] }), undefined), { a: [1, "b"] });
    assert.equal(encodeJson(undefined).length, 0);
    assert.equal(decodeTyped(new Uint8Array(0), undefined), undefined);
  });

  it("applies the schema", () => {
    assert.deepEqual(decodeTyped(encodeJson({ nodeId: "n", at: 1, extra: true }), heartbeatSchema), { nodeId: "n", at: 1 });
    assert.throws(() => decodeTyped(encodeJson({ nodeId: 3 }), heartbeatSchema), /not a heartbeat/);
    assert.throws(() => decodeTyped(new TextEncoder().encode("{nope"), heartbeatSchema), SyntaxError);
  });
});

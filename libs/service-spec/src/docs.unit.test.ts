import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { describe, it } from "node:test";

import { parseServiceDocument } from "./parse.js";
import { valueOf } from "./testing/spec-documents.js";
import { IGNORED_FIELDS } from "./to-spec.js";

// Keeps docs/service-spec.md true: its examples must be valid, and it must name every ignored field.
const docs = readFileSync(new URL("../../../docs/service-spec.md", import.meta.url), "utf8");
const examples = [...docs.matchAll(/```(json|yaml) example\n([\s\S]*?)```/g)].map((match) => ({
  language: match[1] ?? "",
  text: match[2] ?? "",
}));

describe("docs/service-spec.md", () => {
  it("has a JSON and a YAML example for each mode first (later sections may add examples of their own)", () => {
    assert.deepEqual(
      examples.slice(0, 4).map((example) => example.language),
      ["json", "yaml", "json", "yaml"],
    );
  });

  it("has examples that are valid", () => {
    for (const example of examples) {
      const { warnings } = valueOf(parseServiceDocument(example.text));
      assert.ok(Array.isArray(warnings));
    }
  });

  it("has YAML examples that say the same as the JSON ones", () => {
    const specs = examples.map((example) => valueOf(parseServiceDocument(example.text)).value);
    assert.deepEqual(specs[1], specs[0]);
    assert.deepEqual(specs[3], specs[2]);
    assert.equal(specs[0]?.runtime?.$case, "container");
    assert.equal(specs[2]?.runtime?.$case, "processor");
  });

  it("names every accepted-but-ignored field", () => {
    const fields = new Set(Object.values(IGNORED_FIELDS).flatMap((group) => Object.keys(group)));
    for (const field of fields) assert.ok(docs.includes(field), `docs/service-spec.md does not mention ${field}`);
  });
});

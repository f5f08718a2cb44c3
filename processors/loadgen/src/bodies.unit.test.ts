import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { bodiesOf } from "./bodies.js";

describe("request bodies", () => {
  const text = Buffer.from('{"a":1}\r\n{"a":2}\n\n{"a":3}\n');
  for (const [what, data, source, expected] of [
    ["text, whole", text, { binary: false, multiLine: false }, [text.toString()]],
    ["text, one per line (CRLF and blank lines)", text, { binary: false, multiLine: true }, ['{"a":1}', '{"a":2}', '{"a":3}']],
    ["binary, base64 lines", Buffer.from("AAEC\n/w==\n"), { binary: true, multiLine: true }, ["\u0000\u0001\u0002", "\u00ff"]],
    ["nothing", Buffer.alloc(0), { binary: false, multiLine: true }, []],
  ] as const) {
    it(what, () => {
      const bodies = bodiesOf(data, source);
      assert.deepEqual(
        bodies.map((b) => b.toString("latin1")),
        expected.map((e) => Buffer.from(e, source.binary ? "latin1" : "utf8").toString("latin1")),
      );
    });
  }
});

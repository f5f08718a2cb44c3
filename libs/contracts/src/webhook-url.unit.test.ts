import assert from "node:assert/strict";
import { test } from "node:test";
import { webhookUrlProblem } from "./webhook-url.js";

test("a webhook URL is http(s), has a host and carries no credentials", () => {
  const cases: [string, RegExp | undefined][] = [
    ["http://127.0.0.1:8080/hook", undefined],
    ["https://alerts.example.org/budget?team=a", undefined],
    ["not a url", /is not a URL/],
    ["ftp://host/x", /must be http or https, got ftp:/],
    ["https://user:secret@host/x", /must not carry credentials/],
  ];
  for (const [raw, expected] of cases) {
    const problem = webhookUrlProblem(raw);
    if (expected) assert.match(problem ?? "", expected, raw);
    else assert.equal(problem, undefined, raw);
  }
});

import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { isResultsRead } from "../proxy/index.js";
import { isSubmissionProblem, readSubmission, requestedResultId } from "./submission.js";

describe("async submissions", () => {
  it("reads _priority_ from the query and removes it from the instance's path", () => {
    const cases: [string, boolean, string][] = [
      ["/", false, "/"],
      ["/v1/x?a=1&_priority_=1", true, "/v1/x?a=1"],
      ["/?_priority_=true", true, "/"],
      ["/?_priority_=0&b=2", false, "/?b=2"],
      ["/?_priority_=5", true, "/"],
      ["/?_priority_=false", false, "/"],
    ];
    for (const [path, priority, upstream] of cases) {
      const read = readSubmission(path, []);
      assert.ok(!isSubmissionProblem(read));
      assert.deepEqual([read.priority, read.path], [priority, upstream], path);
    }
  });

  it("refuses a _priority_ that is not a number or a boolean", () => {
    const read = readSubmission("/?_priority_=high", []);
    assert.ok(isSubmissionProblem(read));
    assert.match(read.problem, /_priority_ must be 0, 1, true or false, got "high"/);
  });

  it("keeps the callback URL apart, and neither the token nor the length with the request", () => {
    const read = readSubmission("/", [
      "Content-Type",
      "application/json",
      "Authorization",
      "token",
      "X-Eas-Callback-Url",
      "https://hooks.example/x",
      "Content-Length",
      "2",
    ]);
    assert.ok(!isSubmissionProblem(read));
    assert.equal(read.callbackUrl, "https://hooks.example/x");
    assert.deepEqual(read.headers, [["Content-Type", "application/json"]]);
    const bad = readSubmission("/", ["x-eas-callback-url", "javascript:alert(1)"]);
    assert.ok(isSubmissionProblem(bad));
  });

  it("tells reads of results from requests to queue", () => {
    assert.equal(isResultsRead("GET", "/results/abc"), true);
    assert.equal(isResultsRead("GET", "/results"), true);
    assert.equal(isResultsRead("HEAD", "/sink?requestId=abc"), true);
    assert.equal(isResultsRead("POST", "/results/abc"), false);
    assert.equal(isResultsRead("GET", "/v1/resultset"), false);
    assert.equal(isResultsRead("GET", "/"), false);
  });

  it("finds the request id asked for, or none for the watch", () => {
    assert.equal(requestedResultId("/results/abc-1"), "abc-1");
    assert.equal(requestedResultId("/results/b1.7"), "b1.7");
    assert.equal(requestedResultId("/results"), "");
    assert.equal(requestedResultId("/sink?requestId=r9"), "r9");
    assert.equal(requestedResultId("/sink"), undefined);
    assert.equal(requestedResultId("/results/%E0%A4%A"), "%E0%A4%A");
  });
});

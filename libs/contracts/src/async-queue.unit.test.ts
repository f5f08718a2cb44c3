import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { asyncQueueLayout, asyncResultView, AsyncResultState, decodeAsyncResult, encodeAsyncResult, isRequestId } from "./async-queue.js";

describe("async queue layout", () => {
  const layout = asyncQueueLayout("gen_v2");

  it("puts priority and normal requests under their consumers' filters", () => {
    assert.equal(layout.requestSubject("abc", true), "eas.async.q.gen_v2.p.abc");
    assert.equal(layout.requestSubject("abc", false), "eas.async.q.gen_v2.n.abc");
    assert.ok(layout.priorityFilter.startsWith("eas.async.q.gen_v2.p."));
    assert.ok(layout.normalFilter.startsWith("eas.async.q.gen_v2.n."));
  });

  it("reads the request id back from queue and dead-letter subjects, dots included", () => {
    for (const id of ["3f2a-11", "b1a2c3.42"]) {
      assert.equal(layout.requestIdOf(layout.requestSubject(id, true)), id);
      assert.equal(layout.requestIdOf(layout.requestSubject(id, false)), id);
      assert.equal(layout.requestIdOf(layout.deadLetterSubject(id)), id);
    }
  });

  it("keeps one service's names apart from another's", () => {
    const other = asyncQueueLayout("gen");
    assert.notEqual(other.stream, layout.stream);
    assert.ok(!layout.subjects.startsWith(other.subjects.slice(0, -1)));
  });
});

describe("request ids", () => {
  it("accepts uuids and batch line ids, refuses wildcards, spaces and empty tokens", () => {
    for (const id of ["0b5e0c1e-6f1d-4a43-9b7f-2a1d8e1c0f00", "b7f3a9c1d2.12", "a_b"]) assert.equal(isRequestId(id), true, id);
    for (const id of ["", "a.>", "a.*", "a b", "a..b", ".a", "x".repeat(201)]) assert.equal(isRequestId(id), false, id);
  });
});

describe("stored results", () => {
  const done = {
    requestId: "r1",
    state: AsyncResultState.done,
    statusCode: 201,
    headers: [{ name: "content-type", value: "application/json" }],
    body: Buffer.from('{"ok":true}'),
    attempts: 2,
    instanceId: "i-1",
    error: "",
    submittedAtMs: 1_700_000_000_000,
    finishedAtMs: 1_700_000_001_000,
  };

  it("round-trip through their encoding", () => {
    assert.deepEqual(decodeAsyncResult(encodeAsyncResult(done)), done);
  });

  it("show as JSON with a text body, or base64 when the body is not UTF-8", () => {
    assert.deepEqual(asyncResultView(done), {
      request_id: "r1",
      status: "done",
      code: 201,
      headers: { "content-type": "application/json" },
      body: '{"ok":true}',
      attempts: 2,
      instance: "i-1",
      submitted_at: "2023-11-14T22:13:20.000Z",
      finished_at: "2023-11-14T22:13:21.000Z",
    });
    const binary = asyncResultView({ ...done, body: Buffer.from([0xff, 0x00]) });
    assert.equal(binary.body, undefined);
    assert.equal(binary.body_base64, "/wA=");
  });

  it("show failures with their error and non-outcomes as pending", () => {
    const failed = asyncResultView({
      ...done,
      state: AsyncResultState.failed,
      statusCode: 0,
      headers: [],
      body: Buffer.alloc(0),
      error: "HTTP 500",
    });
    assert.equal(failed.status, "failed");
    assert.equal(failed.error, "HTTP 500");
    assert.equal(failed.code, undefined);
    const retrying = asyncResultView({ ...done, state: AsyncResultState.retrying, error: "timed out" });
    assert.equal(retrying.status, "pending");
    assert.equal(retrying.finished_at, undefined);
  });
});

import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { decideAfterAttempt, isRetriedStatus, isStuck, retryDelayMs, SPARE_DELIVERIES, type AttemptOutcome } from "./attempts.js";

const backoff = { baseMs: 100, maxMs: 1_000 };

describe("after an attempt", () => {
  const cases: {
    when: string;
    outcome: AttemptOutcome;
    failedBefore: number;
    maxAttempts: number;
    then: ReturnType<typeof decideAfterAttempt>;
  }[] = [
    {
      when: "the instance answered 200",
      outcome: { kind: "answered", status: 200 },
      failedBefore: 0,
      maxAttempts: 3,
      then: { kind: "store" },
    },
    {
      when: "the instance answered 404 on the last attempt (its answer, not a failure)",
      outcome: { kind: "answered", status: 404 },
      failedBefore: 2,
      maxAttempts: 3,
      then: { kind: "store" },
    },
    {
      when: "the first attempt answered 500",
      outcome: { kind: "answered", status: 500 },
      failedBefore: 0,
      maxAttempts: 3,
      then: { kind: "retry", error: "HTTP 500", delayMs: 100 },
    },
    {
      when: "the second attempt timed out",
      outcome: { kind: "failed", reason: "timed out after 5000 ms" },
      failedBefore: 1,
      maxAttempts: 3,
      then: { kind: "retry", error: "timed out after 5000 ms", delayMs: 200 },
    },
    {
      when: "the last attempt answered 429",
      outcome: { kind: "answered", status: 429 },
      failedBefore: 2,
      maxAttempts: 3,
      then: { kind: "dead-letter", error: "HTTP 429" },
    },
    {
      when: "a single allowed attempt lost its instance",
      outcome: { kind: "failed", reason: "instance i-1 left (Failed)" },
      failedBefore: 0,
      maxAttempts: 1,
      then: { kind: "dead-letter", error: "instance i-1 left (Failed)" },
    },
    {
      when: "the answer is too large to store, on the first attempt",
      outcome: { kind: "unstorable", reason: "result too large" },
      failedBefore: 0,
      maxAttempts: 5,
      then: { kind: "dead-letter", error: "result too large" },
    },
  ];
  for (const c of cases) {
    it(`when ${c.when}: ${c.then.kind}`, () => {
      assert.deepEqual(decideAfterAttempt(c.outcome, c.failedBefore, c.maxAttempts, backoff), c.then);
    });
  }

  it("retries 5xx, 429 and 408, and no other status", () => {
    assert.deepEqual(
      [200, 201, 204, 301, 400, 404, 408, 413, 429, 500, 502, 503, 504].filter(isRetriedStatus),
      [408, 429, 500, 502, 503, 504],
    );
  });

  it("waits twice as long after each failure, up to the cap", () => {
    assert.deepEqual(
      [1, 2, 3, 4, 5, 6].map((n) => retryDelayMs(n, backoff)),
      [100, 200, 400, 800, 1_000, 1_000],
    );
  });

  it("calls a request stuck once its deliveries pass its attempts by the spare ones", () => {
    assert.equal(isStuck(3 + SPARE_DELIVERIES, 0, 3), false);
    assert.equal(isStuck(4 + SPARE_DELIVERIES, 0, 3), true);
    assert.equal(isStuck(4 + SPARE_DELIVERIES, 3, 3), false);
  });
});

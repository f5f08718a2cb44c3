import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { TokenBucket } from "./token-bucket.js";

describe("TokenBucket", () => {
  it("given a full bucket of 5/s, when 7 requests arrive at once, then 5 are admitted", () => {
    const bucket = new TokenBucket(5, 0);
    const admitted = Array.from({ length: 7 }, () => bucket.tryTake(0)).filter(Boolean).length;
    assert.equal(admitted, 5);
  });

  it("given an empty bucket, when 200 ms pass at 10/s, then exactly 2 more are admitted", () => {
    const bucket = new TokenBucket(10, 1_000);
    for (let i = 0; i < 10; i++) assert.equal(bucket.tryTake(1_000), true);
    assert.equal(bucket.tryTake(1_000), false);
    assert.equal(bucket.tryTake(1_200), true);
    assert.equal(bucket.tryTake(1_200), true);
    assert.equal(bucket.tryTake(1_200), false);
  });

  it("never refills beyond its capacity after a long idle period", () => {
    const bucket = new TokenBucket(3, 0);
    bucket.tryTake(0);
    assert.equal(bucket.tryTake(3_600_000), true);
    assert.equal(bucket.tokens, 2);
  });

  it("ignores a clock that goes backwards", () => {
    const bucket = new TokenBucket(1, 10_000);
    assert.equal(bucket.tryTake(10_000), true);
    assert.equal(bucket.tryTake(5_000), false);
    assert.equal(bucket.tryTake(11_000), true);
  });

  it("admits a steady rate equal to its limit over a long run", () => {
    const bucket = new TokenBucket(100, 0);
    let admitted = 0;
    // 1000 requests/s offered for 10 s, one every ms.
    for (let t = 0; t < 10_000; t++) if (bucket.tryTake(t)) admitted++;
    // 100 burst + 100/s * 10 s, give or take the last partial token.
    assert.ok(admitted >= 1_099 && admitted <= 1_100, `admitted ${admitted}`);
  });

  it("suggests a Retry-After of at least one second", () => {
    const bucket = new TokenBucket(0.5, 0);
    bucket.tryTake(0);
    assert.equal(bucket.retryAfterSeconds(), 2);
    assert.equal(new TokenBucket(1000, 0).retryAfterSeconds(), 1);
  });

  it("rejects a non-positive rate", () => {
    assert.throws(() => new TokenBucket(0, 0), RangeError);
  });
});

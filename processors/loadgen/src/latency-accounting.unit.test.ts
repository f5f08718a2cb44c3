/*
 * Coordinated-omission-correct accounting, on a simulated clock: a target that answers in 10 ms but
 * stalls its first request for 1 s. The open loop charges every request due during the stall with its
 * wait from the planned send time; the closed loop, which sends nothing while it waits, records one slow
 * request. Both are right about what they measure; only the first is what users of a service see.
 */
import assert from "node:assert/strict";
import { afterEach, beforeEach, describe, it, mock } from "node:test";
import { decodeLatencyHistogram } from "@eas/metrics";
import type { RequestEnd } from "./http-target.js";
import { ClosedLoopSender, OpenLoopSender, SecondBuckets } from "./index.js";
import type { RequestSink } from "./sender.js";

const clock = { now: () => Date.now() };

/** Answers 10 ms after the send, except that nothing is answered before `stallUntil`. */
function stallingSink(stallUntil: number): RequestSink & { sent: number[] } {
  const sent: number[] = [];
  return {
    sent,
    send(onEnd: (end: RequestEnd) => void) {
      const now = clock.now();
      sent.push(now);
      const answerAt = Math.max(now, stallUntil) + 10;
      setTimeout(() => onEnd({ kind: "answer", statusCode: 200, bytesIn: 2 }), answerAt - now);
    },
  };
}

function latenciesMs(buckets: SecondBuckets): number[] {
  const values: number[] = [];
  for (const second of buckets.close(Number.POSITIVE_INFINITY)) {
    const histogram = decodeLatencyHistogram(second.latencyHistogramUs);
    // Each recorded value, from the histogram's own iteration, rounded to whole ms.
    for (let p = 0; p < histogram.totalCount; p++)
      values.push(Math.round(histogram.getValueAtPercentile(((p + 1) / histogram.totalCount) * 100) / 1000));
  }
  return values.sort((a, b) => a - b);
}

describe("latency accounting under a stall", () => {
  beforeEach(() => mock.timers.enable({ apis: ["setTimeout", "Date"], now: 0 }));
  afterEach(() => mock.timers.reset());

  it("open loop: every request due during the stall is charged its wait from its planned time", () => {
    const buckets = new SecondBuckets();
    const sink = stallingSink(1_000);
    const sender = new OpenLoopSender({ sink, buckets, clock, connections: 1, timeoutMs: 10_000, endAtMs: 2_000 });
    sender.setPhase({ fromMs: 0, rate: 10, workerIndex: 0, workerCount: 1 });
    for (let t = 0; t < 3_000; t += 5) mock.timers.tick(5);
    assert.ok(sender.finished);
    const latencies = latenciesMs(buckets);
    assert.equal(latencies.length, 20, "every planned request ended");
    // Requests due at 0, 100, ... 900 waited for the stall; one connection serves them 10 ms apart after it.
    const slow = latencies.filter((ms) => ms >= 100);
    assert.ok(slow.length >= 9, `slow requests: ${JSON.stringify(latencies)}`);
    assert.ok(latencies.at(-1)! >= 990, `max ${latencies.at(-1)}`);
    assert.ok(latencies[0]! <= 11, `min ${latencies[0]}`);
  });

  it("closed loop: the stall shows in the one request that was in flight", () => {
    const buckets = new SecondBuckets();
    const sink = stallingSink(1_000);
    const sender = new ClosedLoopSender({ sink, buckets, clock, endAtMs: 2_000 });
    sender.setConcurrency(1);
    for (let t = 0; t < 3_000; t += 5) mock.timers.tick(5);
    const latencies = latenciesMs(buckets);
    assert.equal(latencies.filter((ms) => ms >= 100).length, 1, "one slow request");
    assert.ok(latencies.length > 90, `about 100 fast requests after the stall: ${latencies.length}`);
  });
});

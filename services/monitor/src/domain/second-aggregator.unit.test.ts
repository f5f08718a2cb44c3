import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { findMetric, readMetrics } from "./metrics.js";
import { mergeTraffic } from "./point-stats.js";
import { SecondAggregator } from "./second-aggregator.js";
import { gatewaySample, instanceSample, traffic } from "./test-support.js";

const T = 1_700_000_000_000;
const fleet = { instancesReady: () => 2 };
const read = (names: string[], stats: Parameters<typeof readMetrics>[0], seconds = 1) =>
  readMetrics(
    stats,
    seconds,
    names.map((name) => findMetric(name)!),
  );

describe("SecondAggregator", () => {
  it("sums the samples of several gateways for one second and merges their histograms", () => {
    const aggregator = new SecondAggregator(T);
    aggregator.addGateway(
      gatewaySample({ service: "svc", startMs: T, source: "gw-a", total: traffic([10, 10, 10]), inFlight: 2, queued: 1 }),
    );
    aggregator.addGateway(gatewaySample({ service: "svc", startMs: T, source: "gw-b", total: traffic([30], 500), inFlight: 1 }));
    const [point] = aggregator.close(T, fleet);
    assert.ok(point);
    const [qps, errorRatio, p50, rtMax, inFlight, queued, ready] = read(
      ["qps", "error_ratio", "p50", "rt_max", "in_flight", "queued", "instances_ready"],
      point.total,
    );
    assert.equal(qps, 4);
    assert.equal(errorRatio, 0.25);
    assert.ok(Math.abs(p50! - 10) < 0.2, `p50 ${p50}`);
    assert.ok(Math.abs(rtMax! - 30) < 0.4, `max ${rtMax}`);
    assert.deepEqual([inFlight, queued, ready], [3, 1, 2]);
  });

  it("counts a source that sent twice for one second once", () => {
    const aggregator = new SecondAggregator(T);
    aggregator.addGateway(gatewaySample({ service: "svc", startMs: T, total: traffic([1, 1]) }));
    aggregator.addGateway(gatewaySample({ service: "svc", startMs: T, total: traffic([1, 1]) }));
    assert.equal(read(["qps"], aggregator.close(T, fleet)[0]!.total)[0], 2);
  });

  it("splits traffic by version and instance, and puts each instance's CPU and memory beside it", () => {
    const aggregator = new SecondAggregator(T);
    aggregator.addGateway(
      gatewaySample({
        service: "svc",
        startMs: T,
        total: traffic([5, 5, 50]),
        versions: { 1: traffic([5, 5]), 2: traffic([50]) },
        instances: {
          "svc-a": { version: 1, traffic: traffic([5, 5]), inFlight: 1 },
          "svc-b": { version: 2, traffic: traffic([50]), inFlight: 0 },
        },
      }),
    );
    aggregator.addInstance(instanceSample({ service: "svc", instanceId: "svc-a", atMs: T + 300, cpuPercent: 40, memoryBytes: 100 }));
    aggregator.addInstance(
      instanceSample({ service: "svc", instanceId: "svc-b", version: 2, atMs: T + 900, cpuPercent: 60, memoryBytes: 300 }),
    );
    const [point] = aggregator.close(T, fleet);
    assert.ok(point);
    assert.deepEqual(read(["qps", "cpu", "memory"], point.versions[1]), [2, 40, 100]);
    assert.equal(read(["p50"], point.versions[2])[0]! > 49, true);
    assert.deepEqual(read(["qps", "in_flight", "cpu"], point.instances["svc-a"]), [2, 1, 40]);
    assert.equal(point.instances["svc-b"]!.version, 2);
    assert.deepEqual(read(["cpu", "memory"], point.total), [100, 400]);
  });

  it("refuses samples of a closed second and of seconds too far ahead, and closes seconds apart", () => {
    const aggregator = new SecondAggregator(T);
    assert.equal(aggregator.addGateway(gatewaySample({ service: "svc", startMs: T - 1000 })), "late");
    assert.equal(aggregator.addGateway(gatewaySample({ service: "svc", startMs: T + 60_000 })), "future");
    assert.equal(aggregator.addGateway(gatewaySample({ service: "svc", startMs: T + 1000, total: traffic([1]) })), "accepted");
    assert.deepEqual(aggregator.close(T, fleet), []);
    assert.equal(aggregator.closedThroughMs, T + 1000);
    const [point] = aggregator.close(T + 1000, fleet);
    assert.equal(point?.startMs, T + 1000);
    assert.equal(aggregator.addGateway(gatewaySample({ service: "svc", startMs: T + 1000 })), "late");
  });

  it("a service with only resource samples still gets a point with zero traffic", () => {
    const aggregator = new SecondAggregator(T);
    aggregator.addInstance(instanceSample({ service: "idle", instanceId: "idle-a", atMs: T + 10, cpuPercent: 1 }));
    const [point] = aggregator.close(T, fleet);
    assert.deepEqual(read(["qps", "p99", "error_ratio", "cpu"], point!.total), [0, undefined, undefined, 1]);
  });
});

describe("mergeTraffic", () => {
  it("adds codes and bytes", () => {
    const merged = mergeTraffic([traffic([1], 200, { in: 10, out: 20 }), traffic([2, 3], 429, { in: 1, out: 2 })]);
    assert.deepEqual(merged.responsesByCode, { 200: 1, 429: 2 });
    assert.deepEqual([merged.requests, merged.bytesIn, merged.bytesOut], [3, 11, 22]);
  });
});

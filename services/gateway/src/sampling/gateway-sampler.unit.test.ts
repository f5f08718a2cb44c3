import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { decodeGatewaySample, encodeGatewaySample, gatewaySamples, summarizeLatency } from "@eas/metrics";
import type { GatewaySample } from "@eas/proto";
import { GatewaySampler, type ServiceLoad } from "./gateway-sampler.js";

function setup(start = 1_700_000_000_000) {
  let now = start;
  let load: ServiceLoad[] = [];
  const published: { subject: string; sample: GatewaySample }[] = [];
  const sampler = new GatewaySampler({
    source: "gw-test",
    publish: (sample) =>
      published.push({ subject: gatewaySamples.with(sample.service).subject, sample: decodeGatewaySample(encodeGatewaySample(sample)) }),
    load: () => load,
    versionOf: (_service, id) => ({ "svc-a": 1, "svc-b": 2, "slow-a": 3 })[id] ?? 0,
    now: () => now,
  });
  return {
    sampler,
    published,
    advance: (ms: number) => (now += ms),
    setLoad: (next: ServiceLoad[]) => (load = next),
  };
}

describe("GatewaySampler", () => {
  it("publishes one sample per active service for the second that ended, split by version and instance", () => {
    const { sampler, published, advance } = setup();
    sampler.record("svc", "svc-a", 200, 10, 100, 1_000);
    sampler.record("svc", "svc-b", 500, 30, 100, 20);
    sampler.record("svc", "", 429, 0.1, 0, 60);
    advance(1_000);
    sampler.flush();
    assert.equal(published.length, 1);
    const { subject, sample } = published[0]!;
    assert.equal(subject, "eas.metrics.gateway.svc");
    assert.deepEqual(
      { source: sample.source, startMs: sample.startMs, requests: sample.total!.requests, codes: sample.total!.responsesByCode },
      { source: "gw-test", startMs: 1_700_000_000_000, requests: 3, codes: { 200: 1, 429: 1, 500: 1 } },
    );
    assert.deepEqual(Object.keys(sample.versions).sort(), ["1", "2"]);
    assert.equal(sample.instances["svc-b"]!.version, 2);
    assert.equal(sample.instances["svc-a"]!.traffic!.bytesOut, 1_000);
    assert.ok(Math.abs(summarizeLatency(sample.versions[2]!.latencyHistogramUs, [50])!.percentiles[0]! - 30) < 0.3);
  });

  it("sends nothing for an idle service, and the next second only what happened in it", () => {
    const { sampler, published, advance } = setup();
    sampler.record("svc", "svc-a", 200, 10, 0, 0);
    advance(1_000);
    sampler.flush();
    advance(1_000);
    sampler.flush();
    assert.equal(published.length, 1);
    sampler.record("svc", "svc-a", 200, 10, 0, 0);
    advance(1_000);
    sampler.flush();
    assert.equal(published.length, 2);
    assert.equal(published[1]!.sample.total!.requests, 1);
    assert.equal(published[1]!.sample.startMs, 1_700_000_002_000);
  });

  it("reports a service with a long request in flight and a queue, before anything is answered", () => {
    const { sampler, published, advance, setLoad } = setup();
    setLoad([{ service: "slow", queued: 4, instances: [{ id: "slow-a", inFlight: 2 }] }]);
    advance(1_000);
    sampler.flush();
    const sample = published[0]!.sample;
    assert.deepEqual([sample.service, sample.total!.requests, sample.inFlight, sample.queued], ["slow", 0, 2, 4]);
    assert.deepEqual([sample.instances["slow-a"]!.version, sample.instances["slow-a"]!.inFlight], [3, 2]);
  });
});

import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { decodeInstanceSample, encodeInstanceSample, instanceSamples } from "@eas/metrics";
import { waitFor } from "@eas/testing";
import { startInstanceSampler } from "./instance-sampler.js";

describe("instance sampler", () => {
  it("publishes each instance's CPU and memory on its own subject", async () => {
    const published: { subject: string; payload: Uint8Array }[] = [];
    const sampler = startInstanceSampler({
      nodeId: "node-1",
      usage: async () => [{ instanceId: "svc-a", service: "svc", version: 2, cpuPercent: 12.5, memoryBytes: 1024.4 }],
      publish: (sample) =>
        published.push({ subject: instanceSamples.with(sample.service, sample.instanceId).subject, payload: encodeInstanceSample(sample) }),
      onError: (error) => assert.fail(String(error)),
      intervalMs: 10,
      now: () => 1_000,
    });
    try {
      await waitFor("a sample", () => published.length > 0);
    } finally {
      sampler.stop();
    }
    assert.equal(published[0]!.subject, "eas.metrics.instance.svc.svc-a");
    assert.deepEqual(decodeInstanceSample(published[0]!.payload), {
      service: "svc",
      instanceId: "svc-a",
      version: 2,
      nodeId: "node-1",
      atMs: 1_000,
      cpuPercent: 12.5,
      memoryBytes: 1024,
    });
  });
});

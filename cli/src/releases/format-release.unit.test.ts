import assert from "node:assert/strict";
import { describe, it } from "node:test";
import type { ReleaseStatus } from "@eas/proto";
import { describeRelease } from "./format-release.js";

const measurement = {
  name: "shop",
  version: 2,
  step: 1,
  windowFrom: "2026-12-04T10:00:10.000Z",
  windowTo: "2026-12-04T10:00:20.000Z",
  canary: { version: 2, requests: 100, errorRatio: 0.2, p99Ms: 4 },
  stable: { version: 1, requests: 400, errorRatio: 0, p99Ms: 3 },
  gates: [
    { gate: "error_ratio", outcome: "fail", canaryValue: 0.2, stableValue: 0, limit: 0.01, detail: "canary 20.0% > stable 0.0% + 1.0%" },
  ],
  verdict: "fail",
  at: "2026-12-04T10:00:21.500Z",
};

describe("eas release --status", () => {
  it("shows the canary, the mirror and the last release with the gate that failed and its numbers", () => {
    const status: ReleaseStatus = {
      name: "shop",
      stableVersion: 1,
      canary: {
        version: 3,
        weight: 10,
        replicas: 1,
        ready: 0,
        replicasAsked: 0,
        cause: "user",
        startedAt: "2026-12-04T10:01:00.000Z",
        reason: "instance shop-v3-a is not Ready yet",
      },
      plan: undefined,
      last: {
        version: 2,
        outcome: "aborted",
        cause: "release plan",
        reason: "step 1 at 10%: gate error_ratio failed",
        at: measurement.at,
        measurements: [measurement],
      },
      mirror: { target: "shadow", targetVersion: 0, ratio: 20, since: "2026-12-04T09:00:00.000Z" },
    };
    const text = describeRelease(status);
    assert.match(text, /Canary: version 3 at 10%, 0\/1 Ready \(following the weight\)/);
    assert.match(text, /not Ready: instance shop-v3-a/);
    assert.match(text, /Last release: version 2 aborted by release plan .*gate error_ratio failed/);
    assert.match(text, /v2: 100 req, 20\.0% errors, p99 4\.0 ms/);
    assert.match(text, /error_ratio fail: canary 20\.0% > stable 0\.0% \+ 1\.0%/);
    assert.match(text, /Mirror: 20% of requests copied to shadow/);
  });
});

import type { StressStep, StressTaskSpec } from "@eas/proto";

/** A valid spec with every field, for tests to override. */
export function specOf(overrides: Partial<StressTaskSpec> = {}): StressTaskSpec {
  return {
    name: "",
    durationSeconds: 60,
    qps: 100,
    concurrency: 10,
    agentCount: 1,
    serviceName: "echo",
    endpointType: "gateway",
    requestPath: "",
    tokenGiven: false,
    data: { objectUrl: "", type: "text", multiLine: false, sizeBytes: 0, source: "" },
    method: "POST",
    headers: {},
    timeoutMs: 20_000,
    mode: "manual",
    adjustIntervalSeconds: 5,
    minQps: 0,
    maxQps: 0,
    maxRtMs: 0,
    qpsGrowthDelta: 50,
    faultTolerate: 0.001,
    faultAction: "stop",
    ...overrides,
  };
}

/** Steps at the given rates with the given verdicts, in order. */
export function stepsOf(...steps: Array<[rate: number, verdict: "ok" | "latency" | "errors"]>): StressStep[] {
  return steps.map(([rate, verdict], index) => ({
    index: index + 1,
    offeredQps: rate,
    concurrency: 0,
    fromMs: index * 5_000,
    toMs: (index + 1) * 5_000,
    requests: rate * 5,
    achievedQps: rate,
    p50Ms: 10,
    p99Ms: verdict === "latency" ? 500 : 20,
    maxMs: 30,
    errorRatio: verdict === "errors" ? 0.05 : 0,
    verdict,
  }));
}

import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { describe, it } from "node:test";
import { parseStressTask, type ParseResult } from "./task-schema.js";

const LIMITS = { maxDurationSeconds: 3_600, maxQps: 50_000, maxAgentCount: 16 };
const base = { base: { duration: 20, qps: 500 }, service: { serviceName: "echo" } };
const parse = (doc: unknown) => parseStressTask(JSON.stringify(doc), LIMITS);
const violations = (result: ParseResult) => (result.ok ? [] : result.violations.map((v) => `${v.path}: ${v.message}`));

describe("stress task document", () => {
  it("takes EAS's format with its defaults", () => {
    const result = parse(base);
    assert.ok(result.ok);
    const { spec, data } = result.task;
    assert.equal(spec.mode, "manual");
    assert.equal(spec.qps, 500);
    assert.equal(spec.concurrency, 40);
    assert.equal(spec.agentCount, 1);
    assert.equal(spec.endpointType, "gateway");
    assert.equal(spec.timeoutMs, 20_000);
    assert.equal(spec.faultTolerate, 0.001);
    assert.deepEqual(data, { kind: "none" });
  });

  it("reads a full scan task, data by object URL", () => {
    const result = parse({
      name: "find the knee",
      base: { duration: 300, qps: 100, concurrency: 16, agentCount: 2 },
      service: { serviceName: "echo", endpointType: "direct" },
      data: { path: "obj://datasets/requests.jsonl", type: "text", multiLine: true },
      http: { method: "POST", headers: { "Content-Type": "application/json", Authorization: "secret" }, timeout: 5_000 },
      optional: {
        mode: "scan",
        adjustInterval: 10,
        minQPS: 50,
        maxQPS: 800,
        maxRT: 200,
        qpsGrowthDelta: 25,
        faultTolerate: 0.01,
        faultAction: "revise",
      },
    });
    assert.ok(result.ok, JSON.stringify(violations(result)));
    const { spec, data, secrets } = result.task;
    assert.deepEqual(data, { kind: "object", url: "obj://datasets/requests.jsonl" });
    assert.equal(spec.minQps, 50);
    assert.equal(spec.maxQps, 800);
    assert.equal(spec.maxRtMs, 200);
    // The Authorization header is a secret: out of the spec (and so out of the log), kept aside.
    assert.deepEqual(spec.headers, { "content-type": "application/json" });
    assert.equal(secrets.headers.authorization, "secret");
    assert.equal(spec.tokenGiven, true);
  });

  it("takes the service from a URL of this cluster's gateway, with its sub path", () => {
    const result = parse({ ...base, service: { url: "http://127.0.0.1:8080/api/predict/echo/v1/models" } });
    assert.ok(result.ok);
    assert.equal(result.task.spec.serviceName, "echo");
    assert.equal(result.task.spec.requestPath, "/v1/models");
  });

  for (const [what, doc, expected] of [
    ["a rate of zero", { ...base, base: { duration: 20, qps: 0 } }, "base.qps: must be a number of requests per second > 0"],
    ["a fixed-rate task without a rate", { ...base, base: { duration: 20 } }, "base.qps: is required (requests per second, > 0)"],
    [
      "maxQPS below minQPS",
      { ...base, optional: { mode: "scan", minQPS: 200, maxQPS: 100 } },
      "optional.maxQPS: must be >= optional.minQPS (200)",
    ],
    ["no service", { base: { duration: 20, qps: 10 }, service: {} }, "service.serviceName: is required (the service under test)"],
    [
      "a URL that is no service of this cluster",
      { ...base, service: { url: "http://example.com/anything" } },
      "service.url: only services of this cluster can be targeted: give service.serviceName, or a URL ending in /api/predict/<service>",
    ],
    ["a misspelt key", { ...base, optional: { maxQps: 10 } }, 'optional: unknown key "maxQps"'],
    [
      "a duration over the cluster's limit",
      { ...base, base: { duration: 7_200, qps: 10 } },
      "base.duration: must be at most 3600 seconds on this cluster",
    ],
    ["a missing duration", { ...base, base: { qps: 10 } }, "base.duration: is required (a whole number of seconds >= 1)"],
    ["both content and path", { ...base, data: { content: "x", path: "a.txt" } }, "data: give content or path, not both"],
    [
      "a body with GET",
      { ...base, data: { content: "x" }, http: { method: "GET" } },
      "http.method: GET requests carry no body: remove data or use POST",
    ],
    ["an unknown mode", { ...base, optional: { mode: "turbo" } }, "optional.mode: must be one of manual, scan, auto, concurrency"],
    ["not JSON at all", "{", "task: is not valid JSON"],
  ] as const) {
    it(`refuses ${what}, naming the field`, () => {
      const result = typeof doc === "string" ? parseStressTask(doc, LIMITS) : parse(doc);
      assert.equal(result.ok, false);
      assert.ok(
        violations(result).some((v) => v.startsWith(expected)),
        `expected "${expected}" in ${JSON.stringify(violations(result))}`,
      );
    });
  }

  it("a local data file is left for the caller to read", () => {
    const result = parse({ ...base, data: { path: "./requests.txt", multiLine: true } });
    assert.ok(result.ok);
    assert.deepEqual(result.task.data, { kind: "file", path: "./requests.txt" });
  });
});

describe("the documented tasks", () => {
  const root = new URL("../../../../../", import.meta.url);
  const docs = readFileSync(new URL("docs/stress-tests.md", root), "utf8");
  const documented = [...docs.matchAll(/```json example\n([\s\S]*?)```/g)].map((match) => match[1]!);
  const files = ["examples/stress-fixed.json", "examples/stress-scan.json"].map((file) => readFileSync(new URL(file, root), "utf8"));
  it("docs/stress-tests.md and examples/stress-*.json are valid tasks", () => {
    assert.ok(documented.length >= 1);
    for (const text of [...documented, ...files]) {
      const result = parseStressTask(text, LIMITS);
      assert.ok(result.ok, JSON.stringify(violations(result)));
    }
  });
});

import assert from "node:assert/strict";
import { describe, it } from "node:test";

import type { ServiceSpec } from "@eas/proto";

import { validateServiceDocument } from "./parse.js";
import { PROBE_DEFAULTS } from "./rules.js";
import { containerDoc, containerOf, processorDoc, processorOf, valueOf } from "./testing/spec-documents.js";

type Doc = Record<string, unknown>;

describe("defaults", () => {
  it("given a minimal container document, fills every default", () => {
    const { value, warnings } = valueOf(validateServiceDocument(containerDoc()));
    const expected: ServiceSpec = {
      name: "demo",
      instance: 1,
      resources: { cpuMillis: 1000, memoryMib: 1024, gpu: 0, gpuType: "", gpuMemoryGib: 0 },
      resourceGroup: "",
      resourceBurstable: false,
      rpc: { keepaliveMs: 5000, maxConcurrency: 5, maxQueueSize: 64, rateLimit: 0 },
      runtime: {
        $case: "container",
        value: {
          image: "",
          command: "python app.py",
          port: 8000,
          env: [],
          readiness: { kind: "tcp", path: "", port: 8000, initialDelayMs: 0, periodMs: 10_000, timeoutMs: 1000, failureThreshold: 3 },
          liveness: undefined,
        },
      },
      storage: [],
      cloud: { spotAllowed: false, maxSpotPrice: 0, instances: [] },
      labels: {},
      rebalanceDisabled: false,
      async: undefined,
    };
    assert.deepEqual(value, expected);
    assert.deepEqual(warnings, []);
  });

  it("given a minimal processor document, fills every default", () => {
    const { value } = valueOf(validateServiceDocument({ name: "echo_svc", processor: "echo" }));
    assert.equal(value.name, "echo_svc");
    assert.deepEqual(processorOf(value), { name: "echo", modelPath: "", configJson: "{}" });
    assert.deepEqual(value.rpc, { keepaliveMs: 5000, maxConcurrency: 5, maxQueueSize: 64, rateLimit: 0 });
  });

  it("the default readiness probe follows a custom port", () => {
    const doc = containerDoc();
    (doc.containers as Doc[])[0] = { script: "serve", port: 9000 };
    const readiness = containerOf(valueOf(validateServiceDocument(doc)).value).readiness;
    assert.deepEqual(readiness, { kind: "tcp", path: "", port: 9000, ...PROBE_DEFAULTS });
  });
});

type MappingCase = {
  when: string;
  base?: () => Doc;
  change: (doc: Doc) => void;
  then: (spec: ServiceSpec, warnings: string[]) => void;
};

const meta = (doc: Doc) => doc.metadata as Doc;
const container = (doc: Doc) => (doc.containers as Doc[])[0] as Doc;

const mappings: MappingCase[] = [
  // service type and queue
  { when: "type is Standard", change: (d) => (meta(d).type = "Standard"), then: (s) => assert.equal(s.async, undefined) },
  {
    when: "type is Async without a queue section",
    change: (d) => (meta(d).type = "Async"),
    then: (s) =>
      assert.deepEqual(s.async, {
        maxLength: 10_000,
        maxPayloadBytes: 960 * 1024,
        maxAttempts: 3,
        requestTimeoutMs: 600_000,
        resultRetentionSeconds: 86_400,
      }),
  },
  {
    when: "type is Async with every queue setting",
    change: (d) => {
      meta(d).type = "Async";
      d.queue = { max_length: 50, max_payload_size_kb: 64, max_attempts: 5, request_timeout_ms: 2_000, result_retention_seconds: 60 };
    },
    then: (s) =>
      assert.deepEqual(s.async, {
        maxLength: 50,
        maxPayloadBytes: 64 * 1024,
        maxAttempts: 5,
        requestTimeoutMs: 2_000,
        resultRetentionSeconds: 60,
      }),
  },
  // metadata
  { when: "cpu is 0.5 cores", change: (d) => (meta(d).cpu = 0.5), then: (s) => assert.equal(s.resources?.cpuMillis, 500) },
  { when: "cpu is 2 cores", change: (d) => (meta(d).cpu = 2), then: (s) => assert.equal(s.resources?.cpuMillis, 2000) },
  { when: "cpu is 0.125 cores", change: (d) => (meta(d).cpu = 0.125), then: (s) => assert.equal(s.resources?.cpuMillis, 125) },
  { when: "memory is 4000 MB", change: (d) => (meta(d).memory = 4000), then: (s) => assert.equal(s.resources?.memoryMib, 4000) },
  {
    when: "gpu fields are set",
    change: (d) => Object.assign(meta(d), { gpu: 1, gpu_type: "T4", gpu_memory: 8 }),
    then: (s) => assert.deepEqual(s.resources, { cpuMillis: 1000, memoryMib: 1024, gpu: 1, gpuType: "T4", gpuMemoryGib: 8 }),
  },
  { when: "instance is 0", change: (d) => (meta(d).instance = 0), then: (s) => assert.equal(s.instance, 0) },
  { when: "instance is 3", change: (d) => (meta(d).instance = 3), then: (s) => assert.equal(s.instance, 3) },
  {
    when: "a resource group is set",
    change: (d) => Object.assign(meta(d), { resource: "eas-r-gpu01", resource_burstable: true }),
    then: (s) => {
      assert.equal(s.resourceGroup, "eas-r-gpu01");
      assert.equal(s.resourceBurstable, true);
    },
  },
  { when: "resource is empty (public pool)", change: (d) => (meta(d).resource = ""), then: (s) => assert.equal(s.resourceGroup, "") },
  {
    when: "every rpc field is set",
    change: (d) => (meta(d).rpc = { keepalive: 20_000, worker_threads: 8, max_queue_size: 0, rate_limit: 100 }),
    then: (s) => assert.deepEqual(s.rpc, { keepaliveMs: 20_000, maxConcurrency: 8, maxQueueSize: 0, rateLimit: 100 }),
  },
  {
    when: "the name is at the top level",
    change: (d) => {
      delete meta(d).name;
      d.name = "top_name";
    },
    then: (s) => assert.equal(s.name, "top_name"),
  },
  { when: "both names are set and equal", change: (d) => (d.name = "demo"), then: (s) => assert.equal(s.name, "demo") },
  {
    when: "metadata is absent and the name is at the top",
    change: (d) => {
      delete d.metadata;
      d.name = "bare";
    },
    then: (s) => assert.equal(s.name, "bare"),
  },
  // containers
  {
    when: "command is used instead of script",
    change: (d) => (d.containers = [{ command: "./run.sh" }]),
    then: (s) => assert.equal(containerOf(s).command, "./run.sh"),
  },
  {
    when: "image is given",
    change: (d) => (container(d).image = "registry/app:1"),
    then: (s, w) => {
      assert.equal(containerOf(s).image, "registry/app:1");
      assert.ok(w.some((x) => x.startsWith("containers[0].image: recorded only")));
    },
  },
  {
    when: "env values are unquoted YAML scalars",
    change: (d) => (container(d).env = [{ name: "WORKERS", value: 4 }, { name: "DEBUG", value: false }, { name: "EMPTY" }]),
    then: (s) =>
      assert.deepEqual(containerOf(s).env, [
        { name: "WORKERS", value: "4" },
        { name: "DEBUG", value: "false" },
        { name: "EMPTY", value: "" },
      ]),
  },
  {
    when: "env sets PORT",
    change: (d) => (container(d).env = [{ name: "PORT", value: "1" }]),
    then: (_s, w) => assert.ok(w.some((x) => x.startsWith("containers[0].env[0].name: PORT is set by the agent"))),
  },
  {
    when: "health_check is an http probe (EAS)",
    change: (d) =>
      (container(d).health_check = {
        http_get: { path: "/health" },
        initial_delay_seconds: 5,
        period_seconds: 2,
        timeout_seconds: 0.5,
        failure_threshold: 6,
      }),
    then: (s) =>
      assert.deepEqual(containerOf(s).readiness, {
        kind: "http",
        path: "/health",
        port: 8000,
        initialDelayMs: 5000,
        periodMs: 2000,
        timeoutMs: 500,
        failureThreshold: 6,
      }),
  },
  {
    when: "readiness_probe is tcp on another port",
    change: (d) => Object.assign(container(d), { port: 8080, readiness_probe: { tcp_socket: { port: 8081 } } }),
    then: (s) => assert.deepEqual(containerOf(s).readiness, { kind: "tcp", path: "", port: 8081, ...PROBE_DEFAULTS }),
  },
  {
    when: "readiness_check is used (alias)",
    change: (d) => (container(d).readiness_check = { http_get: {} }),
    then: (s) => assert.deepEqual(containerOf(s).readiness, { kind: "http", path: "/", port: 8000, ...PROBE_DEFAULTS }),
  },
  {
    when: "liveness_check is used (alias)",
    change: (d) => (container(d).liveness_check = { http_get: { path: "/live", port: 9000 }, period_seconds: 30 }),
    then: (s) =>
      assert.deepEqual(containerOf(s).liveness, { kind: "http", path: "/live", port: 9000, ...PROBE_DEFAULTS, periodMs: 30_000 }),
  },
  {
    when: "a probe's success_threshold is not 1",
    change: (d) => (container(d).liveness_probe = { tcp_socket: {}, success_threshold: 2 }),
    then: (_s, w) => assert.ok(w.some((x) => x.startsWith("containers[0].liveness_probe.success_threshold: accepted but ignored"))),
  },
  {
    when: "prepare.pythonRequirements is given",
    change: (d) => (container(d).prepare = { pythonRequirements: ["numpy==1.26.4"] }),
    then: (_s, w) => assert.ok(w.some((x) => x.startsWith("containers[0].prepare.pythonRequirements: accepted but ignored"))),
  },
  // processor
  {
    when: "processor_config is an object",
    base: processorDoc,
    change: (d) => (d.processor_config = { intra_op_threads: 2, providers: ["cpu"] }),
    then: (s) => assert.equal(processorOf(s).configJson, '{"intra_op_threads":2,"providers":["cpu"]}'),
  },
  {
    when: "model_config is a JSON string (EAS style)",
    base: processorDoc,
    change: (d) => (d.model_config = ' { "intra_op_threads" : 2 } '),
    then: (s) => assert.equal(processorOf(s).configJson, '{"intra_op_threads":2}'),
  },
  {
    when: "processor_config is blank",
    base: processorDoc,
    change: (d) => (d.processor_config = ""),
    then: (s) => assert.equal(processorOf(s).configJson, "{}"),
  },
  {
    when: "model_path uses oss://",
    base: processorDoc,
    change: (d) => (d.model_path = "oss://models/resnet/model.onnx"),
    then: (s, w) => {
      assert.equal(processorOf(s).modelPath, "obj://models/resnet/model.onnx");
      assert.ok(w.some((x) => x.startsWith('model_path: "oss://models/resnet/model.onnx" is read from this cluster\'s object store')));
    },
  },
  {
    when: "model_path is a local file",
    base: processorDoc,
    change: (d) => (d.model_path = "/srv/models/m.onnx"),
    then: (s) => assert.equal(processorOf(s).modelPath, "file:///srv/models/m.onnx"),
  },
  {
    when: "model_path is a file URL",
    base: processorDoc,
    change: (d) => (d.model_path = "file:///srv/m.onnx"),
    then: (s) => assert.equal(processorOf(s).modelPath, "file:///srv/m.onnx"),
  },
  // storage
  {
    when: "storage uses every accepted form",
    change: (d) =>
      (d.storage = [
        { mount_path: "/models/", oss: { path: "oss://bucket/models/", readOnly: true } },
        { mount_path: "/code", source: "obj://code/v1/" },
        { mount_path: "/data", file: { path: "/srv/data" } },
        { mount_path: "/cache", local: { path: "/var/cache/eas" }, read_only: true },
        { mount_path: "/scratch", empty_dir: {} },
        { mount_path: "/ref", source: "/srv/ref" },
        { mount_path: "/tmp2", source: "empty_dir://" },
      ]),
    then: (s) =>
      assert.deepEqual(s.storage, [
        { mountPath: "/models", source: "obj://bucket/models/", readOnly: true },
        { mountPath: "/code", source: "obj://code/v1/", readOnly: false },
        { mountPath: "/data", source: "file:///srv/data", readOnly: false },
        { mountPath: "/cache", source: "file:///var/cache/eas", readOnly: true },
        { mountPath: "/scratch", source: "empty_dir://", readOnly: false },
        { mountPath: "/ref", source: "file:///srv/ref", readOnly: false },
        { mountPath: "/tmp2", source: "empty_dir://", readOnly: false },
      ]),
  },
  {
    when: "empty_dir has EAS's medium and size_limit",
    change: (d) => (d.storage = [{ mount_path: "/dev/shm", empty_dir: { medium: "memory", size_limit: 20 } }]),
    then: (_s, w) => {
      assert.ok(w.some((x) => x.startsWith("storage[0].empty_dir.medium: accepted but ignored")));
      assert.ok(w.some((x) => x.startsWith("storage[0].empty_dir.size_limit: accepted but ignored")));
    },
  },
  // cloud
  {
    when: "spot is true",
    change: (d) => (d.cloud = { computing: { spot: true } }),
    then: (s) => assert.deepEqual(s.cloud, { spotAllowed: true, maxSpotPrice: 0, instances: [] }),
  },
  {
    when: "max_price alone is set",
    change: (d) => (d.cloud = { computing: { max_price: 1.5 } }),
    then: (s) => assert.deepEqual(s.cloud, { spotAllowed: true, maxSpotPrice: 1.5, instances: [] }),
  },
  {
    when: "spot_strategy is SpotWithPriceLimit",
    change: (d) => (d.cloud = { computing: { spot_strategy: "SpotWithPriceLimit", max_price: 0.8 } }),
    then: (s) => assert.deepEqual(s.cloud, { spotAllowed: true, maxSpotPrice: 0.8, instances: [] }),
  },
  {
    when: "spot_strategy is SpotAsPriceGo",
    change: (d) => (d.cloud = { computing: { spot_strategy: "SpotAsPriceGo" } }),
    then: (s) => assert.deepEqual(s.cloud, { spotAllowed: true, maxSpotPrice: 0, instances: [] }),
  },
  {
    when: "spot_strategy is NoSpot",
    change: (d) => (d.cloud = { computing: { spot_strategy: "NoSpot" } }),
    then: (s) => assert.deepEqual(s.cloud, { spotAllowed: false, maxSpotPrice: 0, instances: [] }),
  },
  {
    when: "EAS instances list spot bids",
    change: (d) =>
      (d.cloud = {
        computing: {
          instances: [
            { type: "ecs.gn6i-c4g1.xlarge", spot_price_limit: 0.5 },
            { type: "ecs.gn6i-c8g1.2xlarge", spot_price_limit: 0.8 },
            { type: "ecs.gn6i-c4g1.xlarge" },
          ],
        },
      }),
    then: (s, w) => {
      assert.deepEqual(s.cloud, {
        spotAllowed: true,
        maxSpotPrice: 0.8,
        instances: [
          { type: "ecs.gn6i-c4g1.xlarge", spotPriceLimit: 0.5 },
          { type: "ecs.gn6i-c8g1.2xlarge", spotPriceLimit: 0.8 },
          { type: "ecs.gn6i-c4g1.xlarge", spotPriceLimit: 0 },
        ],
      });
      assert.deepEqual(w, []);
    },
  },
  {
    when: "instance_type is set",
    change: (d) => (d.cloud = { computing: { instance_type: "ecs.c7.large" } }),
    then: (s, w) => {
      assert.deepEqual(s.cloud, { spotAllowed: false, maxSpotPrice: 0, instances: [] });
      assert.ok(w.some((x) => x.startsWith("cloud.computing.instance_type: accepted but ignored")));
    },
  },
  {
    when: "instances list only on-demand types",
    change: (d) => (d.cloud = { computing: { instances: [{ type: "ecs.c7.large" }, { type: "ecs.c7.xlarge", capacity: 3 }] } }),
    then: (s, w) => {
      assert.deepEqual(s.cloud, {
        spotAllowed: false,
        maxSpotPrice: 0,
        instances: [
          { type: "ecs.c7.large", spotPriceLimit: 0 },
          { type: "ecs.c7.xlarge", spotPriceLimit: 0 },
        ],
      });
      assert.ok(w.some((x) => x.startsWith("cloud.computing.instances[1].capacity: accepted but ignored")));
    },
  },
  {
    when: "rebalance is false",
    change: (d) => ((d.metadata as Doc).rebalance = false),
    then: (s) => assert.equal(s.rebalanceDisabled, true),
  },
  {
    when: "rebalance is true",
    change: (d) => ((d.metadata as Doc).rebalance = true),
    then: (s) => assert.equal(s.rebalanceDisabled, false),
  },
  // labels
  {
    when: "labels have scalar values",
    change: (d) => (d.labels = { team: "vision", "app.kubernetes.io/version": 2, canary: true }),
    then: (s) => assert.deepEqual(s.labels, { team: "vision", "app.kubernetes.io/version": "2", canary: "true" }),
  },
];

describe("field mapping: valid values reach the spec", () => {
  for (const testCase of mappings) {
    it(`when ${testCase.when}`, () => {
      const doc = (testCase.base ?? containerDoc)();
      testCase.change(doc);
      const { value, warnings } = valueOf(validateServiceDocument(doc));
      testCase.then(value, warnings);
    });
  }
});

describe("accepted-but-ignored EAS fields", () => {
  const ignored: Array<[string, (doc: Doc) => void]> = [
    ["metadata.rpc.batching", (d) => (meta(d).rpc = { batching: true })],
    ["metadata.rpc.max_batch_size", (d) => (meta(d).rpc = { max_batch_size: 16 })],
    ["metadata.rpc.proxy_path", (d) => (meta(d).rpc = { proxy_path: "/" })],
    ["metadata.release", (d) => (meta(d).release = true)],
    ["metadata.enable_webservice", (d) => (meta(d).enable_webservice = true)],
    ["metadata.workspace_id", (d) => (meta(d).workspace_id = "123")],
    ["token", (d) => (d.token = "secret")],
    ["dockerAuth", (d) => (d.dockerAuth = "dXNlcjpwYXNz")],
    ["warm_up_data_path", (d) => (d.warm_up_data_path = "oss://b/warmup.bin")],
    ["cloud.networking", (d) => (d.cloud = { networking: { vpc_id: "vpc-1" } })],
    ["containers[0].startup_check", (d) => (container(d).startup_check = { tcp_socket: {} })],
  ];
  for (const [path, change] of ignored) {
    it(`${path} is accepted with a warning naming it`, () => {
      const doc = containerDoc();
      change(doc);
      const { warnings } = valueOf(validateServiceDocument(doc));
      assert.ok(
        warnings.some((warning) => warning.startsWith(`${path}: accepted but ignored`)),
        `no warning for ${path}: ${JSON.stringify(warnings)}`,
      );
    });
  }
});

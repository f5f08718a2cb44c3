import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { describe, it } from "node:test";

import type { ServiceSpec } from "@eas/proto";

import { formatIssues } from "./issues.js";
import { parseServiceDocument, validateServiceDocument } from "./parse.js";
import { issuesOf, valueOf } from "./testing/spec-documents.js";

const testdata = (name: string) => readFileSync(new URL(`./testdata/${name}`, import.meta.url), "utf8");

const expectedContainerSpec: ServiceSpec = {
  name: "text_classifier",
  instance: 2,
  resources: { cpuMillis: 4000, memoryMib: 16_000, gpu: 1, gpuType: "", gpuMemoryGib: 0 },
  resourceGroup: "",
  resourceBurstable: false,
  rpc: { keepaliveMs: 60_000, maxConcurrency: 10, maxQueueSize: 100, rateLimit: 500 },
  runtime: {
    $case: "container",
    value: {
      image: "eas-registry-vpc.cn-hangzhou.cr.aliyuncs.com/pai-eas/python-inference:py39-ubuntu2004",
      command: "python /mnt/code/app.py --model-dir /mnt/models",
      port: 8000,
      env: [
        { name: "MODEL_DIR", value: "/mnt/models" },
        { name: "LOG_LEVEL", value: "info" },
      ],
      readiness: {
        kind: "http",
        path: "/health",
        port: 8000,
        initialDelayMs: 10_000,
        periodMs: 5000,
        timeoutMs: 2000,
        failureThreshold: 3,
      },
      liveness: undefined,
    },
  },
  storage: [
    { mountPath: "/mnt/models", source: "obj://examplebucket/models/text-cls/", readOnly: true },
    { mountPath: "/mnt/code", source: "obj://examplebucket/code/text-cls/", readOnly: false },
  ],
  cloud: { spotAllowed: false, maxSpotPrice: 0, instances: [] },
  labels: {},
  rebalanceDisabled: false,
  async: undefined,
};

const expectedContainerWarnings = [
  "metadata.enable_webservice: accepted but ignored: every service is reachable through the gateway at /api/predict/{name}",
  "containers[0].image: recorded only: the process driver runs the command on the node, not in this image",
  "containers[0].prepare.pythonRequirements: accepted but ignored: install packages on the nodes or in the start command",
  'storage[0].oss.path: "oss://examplebucket/models/text-cls/" is read from this cluster\'s object store as "obj://examplebucket/models/text-cls/", so upload the files there',
  'storage[1].oss.path: "oss://examplebucket/code/text-cls/" is read from this cluster\'s object store as "obj://examplebucket/code/text-cls/", so upload the files there',
  "cloud.computing.instance_type: accepted but ignored: nodes are chosen by cpu, memory and gpu, not by cloud instance type",
];

describe("a real EAS container-mode service.json", () => {
  it("is accepted as written, with oss:// read from our object store", () => {
    const { value, warnings } = valueOf(parseServiceDocument(testdata("eas-container.json")));
    assert.deepEqual(value, expectedContainerSpec);
    assert.deepEqual(warnings, expectedContainerWarnings);
  });

  it("gives the same spec and warnings from its YAML form", () => {
    const { value, warnings } = valueOf(parseServiceDocument(testdata("eas-container.yaml")));
    assert.deepEqual(value, expectedContainerSpec);
    assert.deepEqual(warnings, expectedContainerWarnings);
  });
});

/** The processor example's priority list: a spot bid on a type, then the same type on demand. */
const CLOUD_INSTANCES = [
  { type: "ecs.c7.xlarge", spotPriceLimit: 0.3 },
  { type: "ecs.c7.xlarge", spotPriceLimit: 0 },
];

describe("a real EAS processor-mode service.json", () => {
  it("is refused only for its processor, which is not built in", () => {
    const issues = issuesOf(parseServiceDocument(testdata("eas-processor.json")));
    assert.equal(
      formatIssues(issues),
      'processor: processor "tensorflow_cpu_1.12" is not built in; available: onnx, echo, loadgen (for other frameworks, use containers with your own start command)',
    );
  });

  it("is accepted once the processor is a built-in one", () => {
    const doc = JSON.parse(testdata("eas-processor.json")) as Record<string, unknown>;
    doc.processor = "onnx";
    const { value, warnings } = valueOf(validateServiceDocument(doc));
    const expected: ServiceSpec = {
      name: "resnet50_classifier",
      instance: 3,
      resources: { cpuMillis: 2000, memoryMib: 4000, gpu: 0, gpuType: "", gpuMemoryGib: 0 },
      resourceGroup: "eas-r-cpu01",
      resourceBurstable: true,
      rpc: { keepaliveMs: 30_000, maxConcurrency: 8, maxQueueSize: 128, rateLimit: 0 },
      runtime: {
        $case: "processor",
        value: {
          name: "onnx",
          modelPath: "obj://examplebucket/models/resnet50/",
          configJson: '{"intra_op_num_threads":2,"graph_optimization_level":"all"}',
        },
      },
      storage: [],
      cloud: { spotAllowed: true, maxSpotPrice: 0.3, instances: CLOUD_INSTANCES },
      labels: { team: "vision", model: "resnet50" },
      rebalanceDisabled: false,
      async: undefined,
    };
    assert.deepEqual(value, expected);
    assert.deepEqual(warnings, [
      "warm_up_data_path: accepted but ignored: model warm-up is not implemented",
      "token: accepted but ignored: each service gets a generated token",
      "metadata.rpc.batching: accepted but ignored: server-side batching is not implemented",
      "metadata.rpc.max_batch_size: accepted but ignored: server-side batching is not implemented",
      'model_path: "oss://examplebucket/models/resnet50/" is read from this cluster\'s object store as "obj://examplebucket/models/resnet50/", so upload the files there',
    ]);
  });
});

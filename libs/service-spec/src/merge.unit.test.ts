import assert from "node:assert/strict";
import { describe, it } from "node:test";

import type { ServiceSpec } from "@eas/proto";

import { applyServiceUpdate, mergeServiceDocuments } from "./merge.js";
import { validateServiceDocument } from "./parse.js";
import type { ServiceDocument } from "./schema.js";
import { assertIssue, containerOf, issuesOf, processorOf, valueOf } from "./testing/spec-documents.js";
import { specToDocument } from "./to-document.js";

function spec(doc: unknown): ServiceSpec {
  return valueOf(validateServiceDocument(doc)).value;
}

const containerService = spec({
  metadata: { name: "web", instance: 2, cpu: 1, memory: 2048, resource: "grp1", rpc: { keepalive: 8000, worker_threads: 4 } },
  containers: [
    { script: "python app.py", port: 8000, env: [{ name: "A", value: "1" }], readiness_probe: { http_get: { path: "/ready" } } },
  ],
  storage: [{ mount_path: "/models", source: "obj://m/web/" }],
  cloud: { computing: { spot: true, max_price: 1.2 } },
  labels: { team: "search" },
});

const processorService = spec({
  name: "clf",
  processor: "onnx",
  model_path: "obj://models/clf.onnx",
  processor_config: { intra_op_threads: 2, log_level: "warning" },
});

/** Merges `patch` onto the stored spec, as the deployer does, and validates the result. */
function merged(current: ServiceSpec, patch: unknown, type: "merge" | "replace" = "merge"): ServiceSpec {
  const document = valueOf(mergeServiceDocuments(specToDocument(current), patch, type)).value;
  return spec(document);
}

describe("mergeServiceDocuments: merge", () => {
  it("changes only what the patch names (manual scale)", () => {
    const next = merged(containerService, { metadata: { instance: 5 } });
    assert.deepEqual(next, { ...containerService, instance: 5 });
  });

  it("merges nested objects key by key", () => {
    const next = merged(containerService, { metadata: { rpc: { worker_threads: 16 } } });
    assert.deepEqual(next.rpc, { ...containerService.rpc, maxConcurrency: 16 });
    assert.equal(next.rpc?.keepaliveMs, 8000);
  });

  it("replaces arrays whole", () => {
    const next = merged(containerService, { containers: [{ script: "python v2.py", port: 9000 }] });
    const container = containerOf(next);
    assert.equal(container.command, "python v2.py");
    assert.deepEqual(container.env, []);
    assert.equal(container.readiness?.kind, "tcp");
    assert.equal(container.readiness?.port, 9000);
    assert.deepEqual(next.storage, containerService.storage);
  });

  it("removes a key set to null", () => {
    const next = merged(containerService, { metadata: { resource: null }, labels: null, storage: null });
    assert.equal(next.resourceGroup, "");
    assert.deepEqual(next.labels, {});
    assert.deepEqual(next.storage, []);
  });

  it("switches to processor mode when the patch sets processor", () => {
    const next = merged(containerService, { processor: "echo" });
    assert.deepEqual(processorOf(next), { name: "echo", modelPath: "", configJson: "{}" });
  });

  it("switches to container mode when the patch sets containers", () => {
    const next = merged(processorService, { containers: [{ script: "./serve" }] });
    assert.equal(containerOf(next).command, "./serve");
  });

  it("still refuses a patch that sets both modes", () => {
    const result = mergeServiceDocuments(specToDocument(processorService), { processor: "echo", containers: [{ script: "x" }] }, "merge");
    assertIssue(issuesOf(result), "processor", "not both");
  });

  it("merges processor config across the model_config alias", () => {
    const next = merged(processorService, { model_config: { log_level: "error" } });
    assert.deepEqual(JSON.parse(processorOf(next).configJson), { intra_op_threads: 2, log_level: "error" });
  });

  it("keeps the model when only the config changes", () => {
    const next = merged(processorService, { processor_config: '{"intra_op_threads": 4}' });
    assert.equal(processorOf(next).modelPath, "obj://models/clf.onnx");
    assert.equal(processorOf(next).configJson, '{"intra_op_threads":4}');
  });

  it("replaces the spot settings as a group", () => {
    assert.deepEqual(merged(containerService, { cloud: { computing: { spot_strategy: "NoSpot" } } }).cloud, {
      spotAllowed: false,
      maxSpotPrice: 0,
      instances: [],
    });
    assert.deepEqual(merged(containerService, { cloud: { computing: { spot_strategy: "SpotAsPriceGo" } } }).cloud, {
      spotAllowed: true,
      maxSpotPrice: 0,
      instances: [],
    });
    assert.deepEqual(merged(containerService, { cloud: { computing: { max_price: 3 } } }).cloud, {
      spotAllowed: true,
      maxSpotPrice: 3,
      instances: [],
    });
  });

  it("accepts the current name, at either place", () => {
    assert.equal(merged(containerService, { name: "web", metadata: { name: "web", instance: 1 } }).instance, 1);
  });

  it("refuses a new name", () => {
    const current = specToDocument(containerService);
    assertIssue(
      issuesOf(mergeServiceDocuments(current, { metadata: { name: "web2" } }, "merge")),
      "metadata.name",
      "cannot change the service name",
    );
    // The patch's own spelling is the only one blamed: a top-level name is not said to conflict with a metadata.name it lacks.
    const renamed = issuesOf(mergeServiceDocuments(current, { name: "web2" }, "merge"));
    assert.deepEqual(renamed, [
      { path: "name", message: 'cannot change the service name ("web" to "web2"), create a new service instead' },
    ]);
  });

  it("reports every issue of an invalid patch by path", () => {
    const issues = issuesOf(
      mergeServiceDocuments(specToDocument(containerService), { metadata: { cpu: -1, rpc: { keepalive: "1s" } }, stroage: [] }, "merge"),
    );
    assert.deepEqual(issues.map((issue) => issue.path).sort(), ["metadata.cpu", "metadata.rpc.keepalive", "stroage"]);
  });

  it("refuses a patch that is not an object", () => {
    for (const patch of [null, 5, "x", [1]]) {
      assertIssue(issuesOf(mergeServiceDocuments(specToDocument(containerService), patch, "merge")), "", "must be an object");
    }
  });

  it("refuses a patch that refers back to itself", () => {
    const patch: Record<string, unknown> = { metadata: {} };
    (patch.metadata as Record<string, unknown>).loop = patch;
    assertIssue(issuesOf(mergeServiceDocuments(specToDocument(containerService), patch, "merge")), "", "refers back to itself");
  });

  it("does not change the current document", () => {
    const current = specToDocument(containerService);
    const before = structuredClone(current);
    mergeServiceDocuments(current, { metadata: { instance: 9, rpc: null }, containers: [{ script: "y" }] }, "merge");
    assert.deepEqual(current, before);
  });
});

describe("mergeServiceDocuments: replace", () => {
  it("takes the patch as the whole document, keeping the name when it has none", () => {
    const next = merged(containerService, { processor: "echo", metadata: { instance: 1 } }, "replace");
    assert.equal(next.name, "web");
    assert.equal(next.instance, 1);
    assert.equal(next.resourceGroup, "");
    assert.deepEqual(next.storage, []);
    assert.deepEqual(next.labels, {});
    assert.deepEqual(processorOf(next).name, "echo");
  });

  it("accepts the same name and refuses another", () => {
    const current = specToDocument(containerService);
    assert.equal(valueOf(mergeServiceDocuments(current, { name: "web", processor: "echo" }, "replace")).value.name, "web");
    assertIssue(issuesOf(mergeServiceDocuments(current, { name: "web2", processor: "echo" }, "replace")), "name", "cannot change");
  });

  it("reports a malformed metadata instead of filling the name into it", () => {
    assertIssue(
      issuesOf(mergeServiceDocuments(specToDocument(containerService), { metadata: "x", processor: "echo" }, "replace")),
      "metadata",
      "must be an object",
    );
  });

  it("validates the new document in full", () => {
    assertIssue(
      issuesOf(mergeServiceDocuments(specToDocument(containerService), { metadata: { instance: 2 } }, "replace")),
      "",
      "needs containers",
    );
  });
});

describe("applyServiceUpdate", () => {
  it("parses a YAML patch and merges it by default", () => {
    const { value } = valueOf(applyServiceUpdate(containerService, "metadata:\n  instance: 7\n", ""));
    assert.deepEqual(value, { ...containerService, instance: 7 });
  });

  it("replaces with update type replace", () => {
    const { value } = valueOf(applyServiceUpdate(processorService, '{"processor": "echo"}', "replace"));
    assert.deepEqual(processorOf(value), { name: "echo", modelPath: "", configJson: "{}" });
    assert.equal(value.name, "clf");
  });

  it("changes an async service's queue settings and keeps it async", () => {
    const asyncService = spec({ metadata: { name: "gen", type: "Async" }, processor: "echo", queue: { max_length: 100 } });
    const { value } = valueOf(applyServiceUpdate(asyncService, '{"queue": {"max_attempts": 7}}', "merge"));
    assert.deepEqual(value.async, { ...asyncService.async, maxAttempts: 7 });
    assert.equal(value.async?.maxLength, 100);
  });

  it("refuses to turn a standard service into an async one, and back", () => {
    assertIssue(
      issuesOf(applyServiceUpdate(processorService, '{"metadata": {"type": "Async"}}', "merge")),
      "metadata.type",
      "create a new service",
    );
    const asyncService = spec({ metadata: { name: "gen", type: "Async" }, processor: "echo" });
    assertIssue(issuesOf(applyServiceUpdate(asyncService, '{"processor": "echo"}', "replace")), "metadata.type", "Async service");
  });

  it("reports an unknown update type", () => {
    assert.deepEqual(issuesOf(applyServiceUpdate(containerService, "{}", "patch")), [
      { path: "update_type", message: 'must be "merge" or "replace", got "patch"' },
    ]);
  });

  it("reports a syntax error in the patch", () => {
    assertIssue(issuesOf(applyServiceUpdate(containerService, '{"metadata": ', "merge")), "", "invalid JSON");
  });

  it("returns the warnings of the merged document", () => {
    const { warnings } = valueOf(applyServiceUpdate(containerService, '{"metadata": {"rpc": {"batching": true}}}', "merge"));
    assert.deepEqual(warnings, ["metadata.rpc.batching: accepted but ignored: server-side batching is not implemented"]);
  });
});

describe("specToDocument", () => {
  it("writes the canonical spelling with every value explicit", () => {
    const expected: ServiceDocument = {
      metadata: {
        name: "web",
        instance: 2,
        cpu: 1,
        memory: 2048,
        gpu: 0,
        gpu_memory: 0,
        resource: "grp1",
        rpc: { keepalive: 8000, worker_threads: 4, max_queue_size: 64, rate_limit: 0 },
      },
      containers: [
        {
          script: "python app.py",
          port: 8000,
          env: [{ name: "A", value: "1" }],
          readiness_probe: {
            http_get: { path: "/ready", port: 8000 },
            initial_delay_seconds: 0,
            period_seconds: 10,
            timeout_seconds: 1,
            failure_threshold: 3,
          },
        },
      ],
      storage: [{ mount_path: "/models", source: "obj://m/web/", read_only: false }],
      cloud: { computing: { spot: true, max_price: 1.2 } },
      labels: { team: "search" },
    };
    assert.deepEqual(specToDocument(containerService), expected);
  });

  it("writes processor mode with its config as an object", () => {
    assert.deepEqual(specToDocument(processorService), {
      metadata: {
        name: "clf",
        instance: 1,
        cpu: 1,
        memory: 1024,
        gpu: 0,
        gpu_memory: 0,
        rpc: { keepalive: 5000, worker_threads: 5, max_queue_size: 64, rate_limit: 0 },
      },
      processor: "onnx",
      model_path: "obj://models/clf.onnx",
      processor_config: { intra_op_threads: 2, log_level: "warning" },
    });
  });
});

import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { describe, it } from "node:test";

import type { Probe, ServiceSpec, StorageMount } from "@eas/proto";

import { parseServiceDocument, validateServiceDocument } from "./parse.js";
import { valueOf } from "./testing/spec-documents.js";
import { specToDocument } from "./to-document.js";

const testdata = (name: string) => readFileSync(new URL(`./testdata/${name}`, import.meta.url), "utf8");

/** spec -> document -> spec must give the same spec, with no warnings beyond the image note. */
function assertRoundTrip(spec: ServiceSpec): void {
  const document = specToDocument(spec);
  const again = valueOf(validateServiceDocument(document));
  assert.deepEqual(again.value, spec, `round trip changed the spec; document was ${JSON.stringify(document)}`);
  assert.deepEqual(
    again.warnings.filter((warning) => !warning.startsWith("containers[0].image: recorded only")),
    [],
  );
  // The canonical document is a fixed point.
  assert.deepEqual(specToDocument(again.value), document);
}

describe("round trip: document -> spec -> document -> spec", () => {
  const documents: Array<[string, string]> = [
    ["the EAS container example (JSON)", testdata("eas-container.json")],
    ["the EAS container example (YAML)", testdata("eas-container.yaml")],
    ["the EAS processor example with onnx", testdata("eas-processor.json").replace("tensorflow_cpu_1.12", "onnx")],
    ["a minimal container service", '{"name": "a", "containers": [{"script": "x"}]}'],
    ["a minimal echo service", "name: b\nprocessor: echo\n"],
    [
      "a service with probes, gpu and spot",
      JSON.stringify({
        metadata: {
          name: "gpu_svc",
          instance: 0,
          cpu: 0.25,
          memory: 512,
          gpu: 2,
          gpu_type: "A10",
          gpu_memory: 12,
          resource: "",
          resource_burstable: true,
        },
        containers: [
          {
            command: "serve",
            port: 7000,
            liveness_check: {
              tcp_socket: { port: 7001 },
              initial_delay_seconds: 0.5,
              period_seconds: 0.25,
              timeout_seconds: 3,
              failure_threshold: 1,
            },
            readiness_check: { http_get: {} },
          },
        ],
        storage: [
          { mount_path: "/a//b/", empty_dir: { medium: "memory" } },
          { mount_path: "/c", file: { path: "/srv/c" }, read_only: true },
        ],
        cloud: { computing: { spot_strategy: "SpotAsPriceGo" } },
        labels: { "x.y/z": 3 },
      }),
    ],
  ];
  for (const [what, text] of documents) {
    it(what, () => assertRoundTrip(valueOf(parseServiceDocument(text)).value));
  }
});

/** A small seeded generator (mulberry32), so a failing case can be replayed from its seed. */
function random(seed: number) {
  let state = seed >>> 0;
  const next = () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4_294_967_296;
  };
  const int = (min: number, max: number) => min + Math.floor(next() * (max - min + 1));
  const pick = <T>(items: readonly T[]): T => items[int(0, items.length - 1)] as T;
  return { next, int, pick, bool: () => next() < 0.5 };
}

function randomSpec(seed: number): ServiceSpec {
  const r = random(seed);
  const port = r.int(1, 65_535);
  const probe = (): Probe => {
    const http = r.bool();
    return {
      kind: http ? "http" : "tcp",
      path: http ? r.pick(["/", "/health", "/v2/health/ready"]) : "",
      port: r.bool() ? port : r.int(1, 65_535),
      initialDelayMs: r.int(0, 60_000),
      periodMs: r.int(1, 60_000),
      timeoutMs: r.int(1, 10_000),
      failureThreshold: r.int(1, 10),
    };
  };
  const storage: StorageMount[] = Array.from({ length: r.int(0, 3) }, (_, index) => ({
    mountPath: `/mnt/m${index}`,
    source: r.pick(["obj://bucket/key", "obj://b_2", "file:///srv/data", "empty_dir://", "obj://models/a/b.onnx"]),
    readOnly: r.bool(),
  }));
  const spotAllowed = r.bool();
  // Spot bids (entries with a limit) imply spot; without them the list only names on-demand types.
  const bids = spotAllowed && r.bool();
  const instances = r.bool()
    ? [
        { type: r.pick(["ecs.c7.large", ""]), spotPriceLimit: bids ? r.pick([0.1, 0.5]) : 0 },
        { type: "ecs.c7.xlarge", spotPriceLimit: 0 },
      ]
    : [];
  const container = r.bool();
  return {
    name: `svc_${seed}`,
    instance: r.int(0, 50),
    resources: {
      cpuMillis: r.int(1, 64_000),
      memoryMib: r.int(1, 512_000),
      gpu: r.int(0, 8),
      gpuType: r.pick(["", "T4", "A10", "H200"]),
      gpuMemoryGib: r.int(0, 80),
    },
    resourceGroup: r.pick(["", "eas-r-1", "gpu_pool"]),
    resourceBurstable: r.bool(),
    rpc: { keepaliveMs: r.int(1, 600_000), maxConcurrency: r.int(1, 256), maxQueueSize: r.int(0, 1000), rateLimit: r.int(0, 10_000) },
    runtime: container
      ? {
          $case: "container",
          value: {
            image: r.pick(["", "python:3.11"]),
            command: r.pick(["python app.py", "./serve --port $PORT", "uvicorn main:app --host 0.0.0.0"]),
            port,
            env: Array.from({ length: r.int(0, 3) }, (_, index) => ({ name: `VAR_${index}`, value: r.pick(["", "1", "a b"]) })),
            readiness: probe(),
            liveness: r.bool() ? probe() : undefined,
          },
        }
      : {
          $case: "processor",
          value: {
            name: r.pick(["onnx", "echo"]),
            modelPath: "obj://models/m.onnx",
            configJson: r.pick(["{}", '{"threads":2}', '{"nested":{"a":[1,2]},"s":"x"}']),
          },
        },
    storage,
    cloud: { spotAllowed, maxSpotPrice: spotAllowed ? (bids ? r.pick([0.25, 3]) : r.pick([0, 0.25, 3])) : 0, instances },
    labels: r.bool() ? { team: "t", "app.kubernetes.io/name": `svc${seed}` } : {},
    rebalanceDisabled: r.bool(),
    async: r.bool()
      ? {
          maxLength: r.int(1, 100_000),
          maxPayloadBytes: r.int(1, 960) * 1024,
          maxAttempts: r.int(1, 10),
          requestTimeoutMs: r.int(1, 3_600_000),
          resultRetentionSeconds: r.int(1, 30 * 86_400),
        }
      : undefined,
  };
}

describe("round trip: spec -> document -> spec", () => {
  it("holds for 300 generated specs", () => {
    for (let seed = 1; seed <= 300; seed++) {
      const spec = randomSpec(seed);
      try {
        assertRoundTrip(spec);
      } catch (error) {
        assert.fail(`seed ${seed}: ${error instanceof Error ? error.message : String(error)}`);
      }
    }
  });
});

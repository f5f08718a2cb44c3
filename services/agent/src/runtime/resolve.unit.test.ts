import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { ServiceSpec } from "@eas/proto";
import { RuntimeSpecError, modelMountFor, mountsForSpec, resolveRuntime, rewriteMountPaths } from "./resolve.js";

const mounts = [
  { mountPath: "/home/admin/model", localPath: "/i/mounts/home/admin/model" },
  { mountPath: "/home/admin/model-code", localPath: "/i/mounts/home/admin/model-code" },
  { mountPath: "/data", localPath: "/i/mounts/data" },
];

const opts = {
  repoRoot: "/repo",
  instanceDir: "/i",
  port: 41234,
  instanceId: "svc-abc",
  version: 3,
  baseEnv: { PATH: "/usr/bin:/bin", PORT: "1" },
};

function container(command: string, extra: Record<string, unknown> = {}): ServiceSpec {
  return ServiceSpec.fromPartial({
    name: "svc",
    runtime: { $case: "container", value: { command, port: 8000, ...extra } },
    storage: [],
  });
}

function processor(modelPath: string, storage: Array<{ mountPath: string; source: string }> = []): ServiceSpec {
  return ServiceSpec.fromPartial({
    name: "svc",
    runtime: { $case: "processor", value: { name: "onnx", modelPath } },
    storage,
  });
}

describe("rewriteMountPaths", () => {
  const table: Array<[string, string]> = [
    ["python /home/admin/model/app.py", "python /i/mounts/home/admin/model/app.py"],
    ["--dir=/home/admin/model --x", "--dir=/i/mounts/home/admin/model --x"],
    ["cd /home/admin/model && ./run", "cd /i/mounts/home/admin/model && ./run"],
    ["'/home/admin/model'", "'/i/mounts/home/admin/model'"],
    ["/home/admin/model-code/run.sh", "/i/mounts/home/admin/model-code/run.sh"],
    ["/home/admin/models/x", "/home/admin/models/x"],
    ["/x/home/admin/model", "/x/home/admin/model"],
    ["/data:/data/sub /database", "/i/mounts/data:/i/mounts/data/sub /database"],
    ["/home/admin/model.bak", "/home/admin/model.bak"],
    ["echo $PORT", "echo $PORT"],
  ];
  for (const [input, expected] of table) {
    it(`${input} -> ${expected}`, () => assert.equal(rewriteMountPaths(input, mounts), expected));
  }
  it("leaves text alone without mounts", () => assert.equal(rewriteMountPaths("/data", []), "/data"));
});

describe("resolveRuntime, container mode", () => {
  it("runs the command line with rewritten mount paths and the instance port", () => {
    const spec = container("python /home/admin/model/app.py --port $PORT", {
      env: [
        { name: "MODEL_DIR", value: "/home/admin/model" },
        { name: "PORT", value: "9999" },
      ],
    });
    const resolved = resolveRuntime(spec, mounts, { ...opts, extraEnv: { OTEL_SERVICE_NAME: "x" } });
    assert.equal(resolved.command, "python /i/mounts/home/admin/model/app.py --port $PORT");
    assert.equal(resolved.args, undefined);
    assert.equal(resolved.cwd, "/i");
    assert.equal(resolved.instanceDir, "/i");
    assert.equal(resolved.port, 41234);
    assert.deepEqual(resolved.env, {
      PATH: "/usr/bin:/bin",
      MODEL_DIR: "/i/mounts/home/admin/model",
      PORT: "41234",
      LISTENING_PORT: "41234",
      EAS_INSTANCE_ID: "svc-abc",
      EAS_SERVICE_NAME: "svc",
      EAS_SERVICE_VERSION: "3",
      EAS_MOUNTS: JSON.stringify({
        "/home/admin/model": "/i/mounts/home/admin/model",
        "/home/admin/model-code": "/i/mounts/home/admin/model-code",
        "/data": "/i/mounts/data",
      }),
      OTEL_SERVICE_NAME: "x",
    });
  });

  it("defaults readiness to TCP on the instance port and has no liveness", () => {
    const resolved = resolveRuntime(container("run"), [], opts);
    assert.deepEqual(resolved.readiness, {
      kind: "tcp",
      path: "/",
      port: 41234,
      initialDelayMs: 0,
      periodMs: 1_000,
      timeoutMs: 1_000,
      failureThreshold: 3,
    });
    assert.equal(resolved.liveness, undefined);
  });

  it("takes probes from the spec, aimed at the instance port whatever port they name", () => {
    const resolved = resolveRuntime(
      container("run", {
        readiness: { kind: "http", path: "ready", port: 8000, periodMs: 200 },
        liveness: { kind: "http", path: "/healthz", port: 9000, failureThreshold: 5 },
      }),
      [],
      opts,
    );
    assert.deepEqual(resolved.readiness, {
      kind: "http",
      path: "/ready",
      port: 41234,
      initialDelayMs: 0,
      periodMs: 200,
      timeoutMs: 1_000,
      failureThreshold: 3,
    });
    assert.deepEqual(resolved.liveness, {
      kind: "http",
      path: "/healthz",
      port: 41234,
      initialDelayMs: 0,
      periodMs: 10_000,
      timeoutMs: 1_000,
      failureThreshold: 5,
    });
  });

  const invalid: Array<[string, ServiceSpec, string]> = [
    ["no runtime", ServiceSpec.fromPartial({ name: "svc" }), "runtime"],
    ["an empty command", container("  "), "container.command"],
    ["an unknown probe kind", container("run", { readiness: { kind: "grpc" } }), "container.readiness.kind"],
    [
      "a processor name with a path in it",
      ServiceSpec.fromPartial({ name: "svc", runtime: { $case: "processor", value: { name: "../x" } } }),
      "processor.name",
    ],
    [
      "an unknown processor",
      ServiceSpec.fromPartial({ name: "svc", runtime: { $case: "processor", value: { name: "nope" } } }),
      "processor.name",
    ],
  ];
  for (const [what, spec, field] of invalid) {
    it(`rejects ${what}`, () => {
      assert.throws(
        () => resolveRuntime(spec, [], opts),
        (error: unknown) => error instanceof RuntimeSpecError && error.field === field,
      );
    });
  }
});

describe("processor model mounts", () => {
  const table: Array<[string, ServiceSpec, string | undefined]> = [
    ["a single object keeps its name", processor("obj://models/resnet/model.onnx"), "/eas/model/model.onnx"],
    ["an archive unpacks into /eas/model", processor("obj://models/tf.tar.gz"), "/eas/model"],
    ["a prefix is a folder at /eas/model", processor("obj://models/resnet/"), "/eas/model"],
    ["a file URL keeps its name", processor("file:///srv/models/m.onnx"), "/eas/model/m.onnx"],
    ["a local folder keeps its name", processor("/srv/models/resnet"), "/eas/model/resnet"],
    ["a path under a spec mount needs no mount", processor("/models/m.onnx", [{ mountPath: "/models", source: "obj://b/" }]), undefined],
    ["no model path needs no mount", processor(""), undefined],
    ["a container needs no model mount", container("run"), undefined],
  ];
  for (const [what, spec, mountPath] of table) {
    it(what, () => {
      const mount = modelMountFor(spec);
      assert.equal(mount?.mountPath, mountPath);
      if (mount) assert.equal(mount.readOnly, true);
      assert.equal(mountsForSpec(spec).length, spec.storage.length + (mount ? 1 : 0));
    });
  }
});

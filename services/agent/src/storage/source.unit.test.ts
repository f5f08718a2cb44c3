import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { StorageError } from "./errors.js";
import { archiveKind, assertDisjointMounts, mountLocation, normalizeMountPath, parseSource, relativeKeyPath } from "./source.js";

function reasonOf(fn: () => unknown): string {
  try {
    fn();
  } catch (error) {
    assert.ok(error instanceof StorageError, `expected StorageError, got ${String(error)}`);
    return error.reason;
  }
  assert.fail("expected a StorageError");
}

describe("parseSource", () => {
  const cases: Array<[string, ReturnType<typeof parseSource>]> = [
    ["obj://models/resnet.onnx", { kind: "obj", bucket: "models", key: "resnet.onnx", prefix: false }],
    ["obj://models/resnet/", { kind: "obj", bucket: "models", key: "resnet/", prefix: true }],
    ["obj://models/a/b/c.bin", { kind: "obj", bucket: "models", key: "a/b/c.bin", prefix: false }],
    ["obj://models", { kind: "obj", bucket: "models", key: "", prefix: true }],
    ["file:///data/my%20model", { kind: "local", path: "/data/my model" }],
    ["/data/model/", { kind: "local", path: "/data/model" }],
    ["empty_dir://", { kind: "empty" }],
    ["empty_dir://memory", { kind: "empty" }],
  ];
  for (const [source, expected] of cases) {
    it(`parses ${source}`, () => assert.deepEqual(parseSource(source), expected));
  }
  for (const source of ["oss://bucket/key", "relative/path", "", "obj://bad.bucket/key", "file://host/x"]) {
    it(`rejects ${JSON.stringify(source)} as bad-url`, () =>
      assert.equal(
        reasonOf(() => parseSource(source)),
        "bad-url",
      ));
  }
});

describe("archiveKind", () => {
  const cases: Array<[string, string | undefined]> = [
    ["model.tar.gz", "tar.gz"],
    ["model.TGZ", "tar.gz"],
    ["model.tar", "tar"],
    ["code.zip", "zip"],
    ["model.onnx", undefined],
    ["gz", undefined],
  ];
  for (const [name, kind] of cases) it(`${name} -> ${kind}`, () => assert.equal(archiveKind(name), kind));
});

describe("mount paths", () => {
  it("lays a mount path out under <instanceDir>/mounts", () => {
    assert.equal(mountLocation("/var/eas/i-1", "/home/admin/model/"), "/var/eas/i-1/mounts/home/admin/model");
  });
  it("normalizes redundant slashes and dots", () => {
    assert.equal(normalizeMountPath("//home/./admin//model/"), "/home/admin/model");
  });
  for (const bad of ["relative", "/", "/a/../..", "/../etc"]) {
    it(`rejects ${bad}`, () =>
      assert.equal(
        reasonOf(() => normalizeMountPath(bad)),
        "bad-mount",
      ));
  }
  it("accepts disjoint mounts, including siblings sharing a name prefix", () => {
    assertDisjointMounts([
      { mountPath: "/home/admin/model", source: "a" },
      { mountPath: "/home/admin/models", source: "b" },
      { mountPath: "/code", source: "c" },
    ]);
  });
  it("rejects duplicate and nested mounts", () => {
    assert.equal(
      reasonOf(() =>
        assertDisjointMounts([
          { mountPath: "/a", source: "x" },
          { mountPath: "/a/", source: "y" },
        ]),
      ),
      "bad-mount",
    );
    assert.equal(
      reasonOf(() =>
        assertDisjointMounts([
          { mountPath: "/a/b", source: "x" },
          { mountPath: "/a", source: "y" },
        ]),
      ),
      "bad-mount",
    );
  });
});

describe("relativeKeyPath", () => {
  it("strips the prefix and empty segments", () => {
    assert.equal(relativeKeyPath("s", "models/", "models/v1//model.onnx"), "v1/model.onnx");
  });
  it("skips folder markers", () => assert.equal(relativeKeyPath("s", "models/", "models/"), undefined));
  it("refuses keys that escape the folder", () => {
    assert.equal(
      reasonOf(() => relativeKeyPath("s", "m/", "m/../../etc/passwd")),
      "bad-url",
    );
  });
});

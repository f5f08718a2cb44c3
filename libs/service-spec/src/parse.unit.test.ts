import assert from "node:assert/strict";
import { describe, it } from "node:test";

import { InvalidServiceSpecError, formatIssues, formatPath, unwrapResult } from "./issues.js";
import { isValidServiceName, parseDocumentText, parseServiceDocument, validateServiceDocument } from "./parse.js";
import { assertIssue, containerOf, issuesOf, processorOf, valueOf } from "./testing/spec-documents.js";

describe("parseServiceDocument: text", () => {
  it("reads YAML", () => {
    const yaml = [
      "metadata:",
      "  name: yaml_svc",
      "  cpu: 0.5",
      "containers:",
      "  - command: |",
      "      cd /srv && ./serve --port 8000",
      "    env:",
      "      - name: THREADS",
      "        value: 4",
      "labels:",
      "  tier: 1",
    ].join("\n");
    const { value } = valueOf(parseServiceDocument(yaml));
    assert.equal(value.name, "yaml_svc");
    assert.equal(value.resources?.cpuMillis, 500);
    assert.equal(containerOf(value).command, "cd /srv && ./serve --port 8000\n");
    assert.deepEqual(containerOf(value).env, [{ name: "THREADS", value: "4" }]);
    assert.deepEqual(value.labels, { tier: "1" });
  });

  it("reads YAML in processor mode", () => {
    const { value } = valueOf(parseServiceDocument("name: echo_svc\nprocessor: echo\nprocessor_config:\n  latency_ms: 5\n"));
    assert.deepEqual(processorOf(value), { name: "echo", modelPath: "", configJson: '{"latency_ms":5}' });
  });

  it("reads JSON with leading blank lines", () => {
    const { value } = valueOf(parseServiceDocument('\n\n  {"name": "j", "processor": "echo"}'));
    assert.equal(value.name, "j");
  });

  const syntaxErrors: Array<[string, string, string]> = [
    ["JSON with a trailing comma", '{\n  "name": "x",\n}', "invalid JSON at line 3, column 1"],
    ["JSON missing a comma", '{\n  "name": "x"\n  "processor": "echo"\n}', "invalid JSON at line 3, column 3"],
    ["truncated JSON", '{\n  "name": "x",', "invalid JSON at line 2, column 15"],
    ["JSON with a bare word", '{\n  "a": tru\n}', "invalid JSON at line 2, column 8"],
    // The mis-indented key's own line, not the line above it where the parser noticed.
    [
      "YAML with a key indented too far",
      "metadata:\n  name: x\n   cpu: 1\n",
      'invalid YAML at line 3, column 4: "cpu" is indented more than "name" on line 2; keys of one mapping start at the same column',
    ],
    ["YAML with a key indented too little", "metadata:\n  name: x\n cpu: 1\n", "invalid YAML at line 3, column 1"],
    ["YAML with an unclosed list", "containers: [1\n", "invalid YAML at line 2, column 1"],
    ["YAML with a duplicate key", "name: a\nname: b\n", "invalid YAML at line 2, column 1: Map keys must be unique"],
    ["YAML with tabs for indentation", "metadata:\n\tname: x\n", "invalid YAML at line 2"],
    ["two YAML documents", "name: a\n---\nname: b\n", "invalid YAML at line 2"],
  ];
  for (const [what, text, expected] of syntaxErrors) {
    it(`reports ${what} as an issue at "" with its line and column`, () => {
      const issues = issuesOf(parseServiceDocument(text));
      assert.equal(issues[0]?.path, "");
      assert.ok(issues[0]?.message.startsWith(expected), `${JSON.stringify(issues)} should start with ${expected}`);
    });
  }

  it("reports an empty or comment-only document", () => {
    for (const text of ["", "   \n", "# nothing here\n"]) {
      assert.deepEqual(issuesOf(parseServiceDocument(text)), [{ path: "", message: "the document is empty" }]);
    }
  });

  it("reports a document that is not an object", () => {
    for (const text of ["5", "[1, 2]", "- a\n- b\n", "just text"]) {
      assertIssue(issuesOf(parseServiceDocument(text)), "", "must be an object");
    }
  });

  it("never throws, whatever the input", () => {
    const inputs = ["{", "}", "[", "*a", "a: *b", "!!binary x", "a: !!int x", "\u0000", '{"__proto__": {"x": 1}}', "a:\n  - b: [\n"];
    for (const text of inputs) assert.doesNotThrow(() => parseServiceDocument(text));
    for (const doc of [undefined, null, 0, "x", [], () => 1, new Date(0), Object.create(null)]) {
      assert.doesNotThrow(() => validateServiceDocument(doc));
      assert.equal(validateServiceDocument(doc).ok, false);
    }
  });

  it("reports an own __proto__ key as an unknown field", () => {
    assertIssue(issuesOf(parseServiceDocument('{"name": "x", "processor": "echo", "__proto__": {"a": 1}}')), "__proto__", "unknown field");
  });

  it("refuses recursive YAML aliases", () => {
    const text = "name: a\nprocessor: echo\nprocessor_config: &c\n  self: *c\n";
    assertIssue(issuesOf(parseServiceDocument(text)), "", "recursive aliases");
  });

  it("refuses a processor config that refers back to itself", () => {
    const config: Record<string, unknown> = {};
    config.self = config;
    assertIssue(issuesOf(validateServiceDocument({ name: "a", processor: "echo", processor_config: config })), "processor_config");
  });

  it("does not expand YAML alias bombs", () => {
    const bomb = [
      "a: &a [x, x, x, x, x, x, x, x, x, x]",
      "b: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a, *a]",
      "c: &c [*b, *b, *b, *b, *b, *b, *b, *b, *b, *b]",
      "d: [*c, *c, *c, *c, *c, *c, *c, *c, *c, *c]",
    ].join("\n");
    assertIssue(issuesOf(parseDocumentText(bomb)), "", "invalid YAML");
  });
});

describe("all issues at once", () => {
  it("lists every problem in one pass, across levels and cross-field rules", () => {
    const doc = {
      cpu: 2,
      metadata: { instance: -1, cpu: "two", memory: 0, rpc: { keepalive: 0, worker_threads: 1.5 } },
      containers: [{ command: ["python"], port: 0, readiness_probe: {}, env: [{ name: "A" }, { name: "A" }] }],
      processor: "pmml",
      storage: [
        { mount_path: "rel", oss: { path: "s3://b" } },
        { mount_path: "/m", nfs: {} },
      ],
      cloud: { computing: { spot: false, max_price: -1 } },
      labels: { "bad key": "x" },
    };
    const issues = issuesOf(validateServiceDocument(doc));
    const paths = issues.map((issue) => issue.path).sort();
    assert.deepEqual(paths, [
      "cloud.computing.max_price",
      "cloud.computing.spot",
      "containers[0].command",
      "containers[0].env[1].name",
      "containers[0].port",
      "containers[0].readiness_probe",
      "cpu",
      'labels["bad key"]',
      "metadata.cpu",
      "metadata.instance",
      "metadata.memory",
      "metadata.name",
      "metadata.rpc.keepalive",
      "metadata.rpc.worker_threads",
      "processor",
      "processor",
      "storage[0].mount_path",
      "storage[0].oss.path",
      "storage[1].nfs",
    ]);
  });

  it("formats issues as one line for gRPC INVALID_ARGUMENT", () => {
    const issues = issuesOf(validateServiceDocument({ metadata: { name: "ok", cpu: 0 }, containers: [{ script: "x", port: 0 }] }));
    assert.equal(
      formatIssues(issues),
      "metadata.cpu: must be a number of cores > 0 with at most 3 decimals (e.g. 2 or 0.5), got 0; containers[0].port: must be a port number from 1 to 65535, got 0",
    );
    assert.equal(formatIssues([{ path: "", message: "the document is empty" }]), "the document is empty");
  });
});

describe("helpers", () => {
  it("formats paths", () => {
    assert.equal(formatPath([]), "");
    assert.equal(formatPath(["containers", 0, "port"]), "containers[0].port");
    assert.equal(formatPath(["labels", "app.kubernetes.io/name"]), 'labels["app.kubernetes.io/name"]');
  });

  it("unwrapResult throws a typed error carrying every issue", () => {
    const result = validateServiceDocument({ processor: "echo" });
    assert.throws(
      () => unwrapResult(result),
      (error: unknown) =>
        error instanceof InvalidServiceSpecError &&
        error.retryable === false &&
        error.issues.length === 1 &&
        error.message === "invalid service spec: metadata.name: is required (or name at the top level, as older EAS files have it)",
    );
    assert.equal(unwrapResult(validateServiceDocument({ name: "a", processor: "echo" })).name, "a");
  });

  it("checks service names", () => {
    assert.equal(isValidServiceName("resnet50_v2"), true);
    assert.equal(isValidServiceName(`a${"b".repeat(62)}`), true);
    for (const bad of ["", "A", "_a", "9a", "a-b", "a.b", "a b", "a*", "a>", `a${"b".repeat(63)}`])
      assert.equal(isValidServiceName(bad), false, bad);
  });
});

import { describe, it } from "node:test";

import { validateServiceDocument } from "./parse.js";
import { assertIssue, containerDoc, issuesOf, processorDoc } from "./testing/spec-documents.js";

type Doc = Record<string, unknown>;
type Case = {
  /** What is wrong. */
  when: string;
  base?: () => Doc;
  change: (doc: Doc) => void;
  path: string;
  says?: string;
};

const meta = (doc: Doc) => doc.metadata as Doc;
const rpc = (doc: Doc) => {
  meta(doc).rpc ??= {};
  return meta(doc).rpc as Doc;
};
const container = (doc: Doc) => (doc.containers as Doc[])[0] as Doc;
const withStorage = (doc: Doc, ...entries: unknown[]) => {
  doc.storage = entries;
};
const computing = (doc: Doc, value: Doc) => {
  doc.cloud = { computing: value };
};

// Each row breaks one rule of an otherwise valid document; the issue must name the field.
const cases: Case[] = [
  // name
  { when: "the name is missing", change: (d) => delete meta(d).name, path: "metadata.name", says: "is required" },
  { when: "the name has upper case", change: (d) => (meta(d).name = "Demo"), path: "metadata.name", says: "lowercase" },
  { when: "the name starts with a digit", change: (d) => (meta(d).name = "1demo"), path: "metadata.name" },
  { when: "the name has a dash (unsafe in subjects)", change: (d) => (meta(d).name = "my-svc"), path: "metadata.name" },
  { when: "the name has a dot (a NATS token separator)", change: (d) => (meta(d).name = "a.b"), path: "metadata.name" },
  { when: "the name is 64 characters", change: (d) => (meta(d).name = `a${"b".repeat(63)}`), path: "metadata.name" },
  { when: "the name is not a string", change: (d) => (meta(d).name = 5), path: "metadata.name", says: "got 5" },
  {
    when: "the top-level name is invalid",
    change: (d) => {
      delete meta(d).name;
      d.name = "a*";
    },
    path: "name",
  },
  { when: "the two names differ", change: (d) => (d.name = "other"), path: "name", says: "conflicts with metadata.name" },
  // metadata
  {
    when: "metadata is not an object",
    change: (d) => {
      d.metadata = "x";
      d.name = "demo";
    },
    path: "metadata",
    says: "must be an object",
  },
  {
    when: "a metadata key is misspelled",
    change: (d) => (meta(d).instnace = 2),
    path: "metadata.instnace",
    says: 'did you mean "instance"',
  },
  { when: "a metadata field sits at the top", change: (d) => (d.cpu = 2), path: "cpu", says: "belongs under metadata" },
  {
    when: "an rpc field sits in metadata",
    change: (d) => (meta(d).worker_threads = 2),
    path: "metadata.worker_threads",
    says: "belongs under metadata.rpc",
  },
  { when: "instance is negative", change: (d) => (meta(d).instance = -1), path: "metadata.instance", says: "an integer from 0 to 1000" },
  { when: "instance is past the ceiling", change: (d) => (meta(d).instance = 1001), path: "metadata.instance", says: "from 0 to 1000" },
  { when: "instance is fractional", change: (d) => (meta(d).instance = 1.5), path: "metadata.instance" },
  { when: "instance is a string", change: (d) => (meta(d).instance = "2"), path: "metadata.instance", says: 'got "2"' },
  { when: "cpu is 0", change: (d) => (meta(d).cpu = 0), path: "metadata.cpu", says: "cores > 0" },
  { when: "cpu is negative", change: (d) => (meta(d).cpu = -1), path: "metadata.cpu" },
  { when: "cpu is finer than a millicore", change: (d) => (meta(d).cpu = 0.0005), path: "metadata.cpu", says: "3 decimals" },
  { when: "cpu is a string", change: (d) => (meta(d).cpu = "2"), path: "metadata.cpu" },
  { when: "memory is 0", change: (d) => (meta(d).memory = 0), path: "metadata.memory", says: "a positive integer" },
  { when: "memory has a unit", change: (d) => (meta(d).memory = "4G"), path: "metadata.memory" },
  { when: "memory is fractional", change: (d) => (meta(d).memory = 1.5), path: "metadata.memory" },
  { when: "gpu is negative", change: (d) => (meta(d).gpu = -1), path: "metadata.gpu" },
  { when: "gpu_memory is negative", change: (d) => (meta(d).gpu_memory = -2), path: "metadata.gpu_memory" },
  { when: "gpu_type is a number", change: (d) => (meta(d).gpu_type = 10), path: "metadata.gpu_type" },
  { when: "gpu_type has odd characters", change: (d) => (meta(d).gpu_type = "A10;rm"), path: "metadata.gpu_type" },
  { when: "resource has spaces", change: (d) => (meta(d).resource = "my group"), path: "metadata.resource", says: "resource group id" },
  {
    when: "rebalance is a string",
    change: (d) => (meta(d).rebalance = "no"),
    path: "metadata.rebalance",
    says: "true or false",
  },
  {
    when: "resource_burstable is a string",
    change: (d) => (meta(d).resource_burstable = "yes"),
    path: "metadata.resource_burstable",
    says: "true or false",
  },
  // rpc
  { when: "rpc is not an object", change: (d) => (meta(d).rpc = 5), path: "metadata.rpc", says: "must be an object" },
  { when: "keepalive is 0", change: (d) => (rpc(d).keepalive = 0), path: "metadata.rpc.keepalive" },
  { when: "worker_threads is 0", change: (d) => (rpc(d).worker_threads = 0), path: "metadata.rpc.worker_threads" },
  { when: "max_queue_size is negative", change: (d) => (rpc(d).max_queue_size = -1), path: "metadata.rpc.max_queue_size" },
  { when: "rate_limit is fractional", change: (d) => (rpc(d).rate_limit = 1.5), path: "metadata.rpc.rate_limit" },
  {
    when: "an rpc key is unknown",
    change: (d) => (rpc(d).keep_alive = 100),
    path: "metadata.rpc.keep_alive",
    says: 'did you mean "keepalive"',
  },
  // modes
  { when: "neither containers nor processor is given", change: (d) => delete d.containers, path: "", says: "needs containers" },
  { when: "both containers and processor are given", change: (d) => (d.processor = "echo"), path: "processor", says: "not both" },
  {
    when: "a processor field is given in container mode",
    change: (d) => (d.model_path = "obj://m/x"),
    path: "model_path",
    says: "only used with processor",
  },
  // containers
  { when: "containers is not a list", change: (d) => (d.containers = { script: "x" }), path: "containers", says: "must be a list" },
  { when: "containers is empty", change: (d) => (d.containers = []), path: "containers", says: "one container" },
  {
    when: "there are two containers",
    change: (d) => (d.containers = [{ script: "a" }, { script: "b" }]),
    path: "containers",
    says: "exactly one is supported",
  },
  {
    when: "a container is not an object",
    change: (d) => (d.containers = ["python app.py"]),
    path: "containers[0]",
    says: "must be an object",
  },
  { when: "the start command is missing", change: (d) => delete container(d).script, path: "containers[0].script", says: "is required" },
  { when: "the start command is blank", change: (d) => (container(d).script = "  "), path: "containers[0].script" },
  {
    when: "command is a list (k8s style)",
    change: (d) => {
      delete container(d).script;
      container(d).command = ["python", "app.py"];
    },
    path: "containers[0].command",
    says: "command line string",
  },
  {
    when: "script and command are both given",
    change: (d) => (container(d).command = "x"),
    path: "containers[0].command",
    says: "not both",
  },
  { when: "port is 0", change: (d) => (container(d).port = 0), path: "containers[0].port", says: "1 to 65535" },
  { when: "port is too large", change: (d) => (container(d).port = 70_000), path: "containers[0].port" },
  { when: "port is a string", change: (d) => (container(d).port = "8000"), path: "containers[0].port" },
  { when: "image is blank", change: (d) => (container(d).image = ""), path: "containers[0].image" },
  { when: "env is not a list", change: (d) => (container(d).env = { A: "1" }), path: "containers[0].env", says: "must be a list" },
  {
    when: "an env name starts with a digit",
    change: (d) => (container(d).env = [{ name: "1A", value: "x" }]),
    path: "containers[0].env[0].name",
  },
  { when: "an env value is an object", change: (d) => (container(d).env = [{ name: "A", value: {} }]), path: "containers[0].env[0].value" },
  {
    when: "an env entry has an unknown key",
    change: (d) => (container(d).env = [{ name: "A", valueFrom: {} }]),
    path: "containers[0].env[0].valueFrom",
    says: "unknown field",
  },
  {
    when: "an env name repeats",
    change: (d) =>
      (container(d).env = [
        { name: "A", value: "1" },
        { name: "A", value: "2" },
      ]),
    path: "containers[0].env[1].name",
    says: "duplicates env[0]",
  },
  { when: "prepare has an unknown key", change: (d) => (container(d).prepare = { pip: [] }), path: "containers[0].prepare.pip" },
  {
    when: "a container key is misspelled",
    change: (d) => (container(d).scirpt = "x"),
    path: "containers[0].scirpt",
    says: 'did you mean "script"',
  },
  // probes
  {
    when: "a probe has no check",
    change: (d) => (container(d).readiness_probe = { period_seconds: 5 }),
    path: "containers[0].readiness_probe",
    says: "needs http_get",
  },
  {
    when: "a probe has two checks",
    change: (d) => (container(d).readiness_probe = { http_get: {}, tcp_socket: {} }),
    path: "containers[0].readiness_probe.tcp_socket",
    says: "not both",
  },
  {
    when: "a probe uses exec",
    change: (d) => (container(d).liveness_probe = { exec: { command: ["true"] } }),
    path: "containers[0].liveness_probe.exec",
    says: "not supported",
  },
  {
    when: "an http probe path is relative",
    change: (d) => (container(d).health_check = { http_get: { path: "health" } }),
    path: "containers[0].health_check.http_get.path",
    says: 'starting with "/"',
  },
  {
    when: "an http probe port is 0",
    change: (d) => (container(d).readiness_probe = { http_get: { port: 0 } }),
    path: "containers[0].readiness_probe.http_get.port",
  },
  {
    when: "a tcp probe port is a string",
    change: (d) => (container(d).readiness_probe = { tcp_socket: { port: "x" } }),
    path: "containers[0].readiness_probe.tcp_socket.port",
  },
  {
    when: "initial_delay_seconds is negative",
    change: (d) => (container(d).readiness_probe = { tcp_socket: {}, initial_delay_seconds: -1 }),
    path: "containers[0].readiness_probe.initial_delay_seconds",
  },
  {
    when: "period_seconds is 0",
    change: (d) => (container(d).readiness_probe = { tcp_socket: {}, period_seconds: 0 }),
    path: "containers[0].readiness_probe.period_seconds",
  },
  {
    when: "timeout_seconds is a string",
    change: (d) => (container(d).readiness_probe = { tcp_socket: {}, timeout_seconds: "1" }),
    path: "containers[0].readiness_probe.timeout_seconds",
  },
  {
    when: "failure_threshold is 0",
    change: (d) => (container(d).liveness_probe = { tcp_socket: {}, failure_threshold: 0 }),
    path: "containers[0].liveness_probe.failure_threshold",
  },
  {
    when: "a probe key is camelCase",
    change: (d) => (container(d).readiness_probe = { tcp_socket: {}, periodSeconds: 5 }),
    path: "containers[0].readiness_probe.periodSeconds",
    says: 'did you mean "period_seconds"',
  },
  {
    when: "two readiness aliases are given",
    change: (d) => {
      container(d).readiness_probe = { tcp_socket: {} };
      container(d).health_check = { tcp_socket: {} };
    },
    path: "containers[0].health_check",
    says: "aliases",
  },
  {
    when: "two liveness aliases are given",
    change: (d) => {
      container(d).liveness_probe = { tcp_socket: {} };
      container(d).liveness_check = { tcp_socket: {} };
    },
    path: "containers[0].liveness_check",
    says: "aliases",
  },
  // processor
  {
    when: "the processor is an EAS one",
    base: processorDoc,
    change: (d) => (d.processor = "tensorflow_cpu_1.12"),
    path: "processor",
    says: 'processor "tensorflow_cpu_1.12" is not built in; available: onnx, echo, loadgen',
  },
  {
    when: "the processor is pmml",
    base: processorDoc,
    change: (d) => (d.processor = "pmml"),
    path: "processor",
    says: "is not built in; available: onnx, echo, loadgen",
  },
  {
    when: "the processor is spelled in capitals",
    base: processorDoc,
    change: (d) => (d.processor = "ONNX"),
    path: "processor",
    says: 'did you mean "onnx"',
  },
  { when: "the processor is not a string", base: processorDoc, change: (d) => (d.processor = 1), path: "processor" },
  {
    when: "onnx has no model_path",
    base: processorDoc,
    change: (d) => delete d.model_path,
    path: "model_path",
    says: "required for processor onnx",
  },
  { when: "model_path is relative", base: processorDoc, change: (d) => (d.model_path = "models/x.onnx"), path: "model_path" },
  {
    when: "model_path is an http URL",
    base: processorDoc,
    change: (d) => (d.model_path = "https://example.com/m.onnx"),
    path: "model_path",
    says: "http(s)",
  },
  {
    when: "model_path has another scheme",
    base: processorDoc,
    change: (d) => (d.model_path = "s3://b/m.onnx"),
    path: "model_path",
    says: 'unsupported scheme "s3://"',
  },
  { when: "processor_config is a number", base: processorDoc, change: (d) => (d.processor_config = 5), path: "processor_config" },
  {
    when: "processor_config is not JSON",
    base: processorDoc,
    change: (d) => (d.processor_config = "{threads: 2"),
    path: "processor_config",
    says: "JSON object",
  },
  { when: "model_config is a JSON list", base: processorDoc, change: (d) => (d.model_config = "[1]"), path: "model_config" },
  {
    when: "both config aliases are given",
    base: processorDoc,
    change: (d) => {
      d.processor_config = {};
      d.model_config = {};
    },
    path: "model_config",
    says: "aliases",
  },
  {
    when: "a custom processor is named",
    base: processorDoc,
    change: (d) => (d.processor_path = "oss://b/p.tar.gz"),
    path: "processor_path",
    says: "custom processors are not supported",
  },
  { when: "processor_entry is given", base: processorDoc, change: (d) => (d.processor_entry = "app.py"), path: "processor_entry" },
  // storage
  { when: "storage is not a list", change: (d) => (d.storage = {}), path: "storage", says: "must be a list" },
  {
    when: "mount_path is missing",
    change: (d) => withStorage(d, { source: "obj://b/k" }),
    path: "storage[0].mount_path",
    says: "is required",
  },
  {
    when: "mount_path is relative",
    change: (d) => withStorage(d, { mount_path: "models", source: "obj://b/k" }),
    path: "storage[0].mount_path",
    says: "absolute path",
  },
  {
    when: "mount_path is the root",
    change: (d) => withStorage(d, { mount_path: "/", source: "obj://b/k" }),
    path: "storage[0].mount_path",
  },
  {
    when: "mount_path climbs with ..",
    change: (d) => withStorage(d, { mount_path: "/a/../etc", source: "obj://b/k" }),
    path: "storage[0].mount_path",
  },
  { when: "a mount has no source", change: (d) => withStorage(d, { mount_path: "/m" }), path: "storage[0]", says: "needs a source" },
  {
    when: "a mount has two sources",
    change: (d) => withStorage(d, { mount_path: "/m", source: "obj://b/k", oss: { path: "oss://b/k" } }),
    path: "storage[0].oss",
    says: "not several",
  },
  {
    when: "oss.path is not an oss URL",
    change: (d) => withStorage(d, { mount_path: "/m", oss: { path: "s3://b/k" } }),
    path: "storage[0].oss.path",
    says: "oss://bucket/key",
  },
  {
    when: "oss.path has a bad bucket",
    change: (d) => withStorage(d, { mount_path: "/m", oss: { path: "oss://my bucket/k" } }),
    path: "storage[0].oss.path",
    says: "bucket name",
  },
  {
    when: "oss has an unknown key",
    change: (d) => withStorage(d, { mount_path: "/m", oss: { path: "oss://b/k", read_only: true } }),
    path: "storage[0].oss.read_only",
    says: "unknown field",
  },
  {
    when: "an nfs mount is given",
    change: (d) => withStorage(d, { mount_path: "/m", nfs: { server: "x", path: "/" } }),
    path: "storage[0].nfs",
    says: "NFS mounts are not supported",
  },
  {
    when: "source has an unknown scheme",
    change: (d) => withStorage(d, { mount_path: "/m", source: "ftp://h/x" }),
    path: "storage[0].source",
    says: "unsupported scheme",
  },
  { when: "source is relative", change: (d) => withStorage(d, { mount_path: "/m", source: "data/x" }), path: "storage[0].source" },
  {
    when: "a local path is relative",
    change: (d) => withStorage(d, { mount_path: "/m", local: { path: "data" } }),
    path: "storage[0].local.path",
  },
  {
    when: "a file path is missing",
    change: (d) => withStorage(d, { mount_path: "/m", file: {} }),
    path: "storage[0].file.path",
    says: "is required",
  },
  {
    when: "read_only is a string",
    change: (d) => withStorage(d, { mount_path: "/m", source: "obj://b", read_only: "no" }),
    path: "storage[0].read_only",
  },
  {
    when: "read_only contradicts oss.readOnly",
    change: (d) => withStorage(d, { mount_path: "/m", read_only: true, oss: { path: "oss://b/k", readOnly: false } }),
    path: "storage[0].read_only",
    says: "conflicts",
  },
  {
    when: "two mounts share a path",
    change: (d) => withStorage(d, { mount_path: "/m/", source: "obj://b" }, { mount_path: "/m", source: "obj://c" }),
    path: "storage[1].mount_path",
    says: "duplicates storage[0]",
  },
  {
    when: "a storage key is unknown",
    change: (d) => withStorage(d, { mount_path: "/m", source: "obj://b", mountPath: "/x" }),
    path: "storage[0].mountPath",
  },
  // cloud
  { when: "cloud is not an object", change: (d) => (d.cloud = []), path: "cloud", says: "must be an object" },
  { when: "a cloud key is unknown", change: (d) => (d.cloud = { compute: {} }), path: "cloud.compute", says: 'did you mean "computing"' },
  { when: "spot is a string", change: (d) => computing(d, { spot: "yes" }), path: "cloud.computing.spot" },
  {
    when: "spot_strategy is unknown",
    change: (d) => computing(d, { spot_strategy: "Cheap" }),
    path: "cloud.computing.spot_strategy",
    says: "NoSpot, SpotAsPriceGo, SpotWithPriceLimit",
  },
  { when: "max_price is 0", change: (d) => computing(d, { max_price: 0 }), path: "cloud.computing.max_price", says: "a price > 0" },
  {
    when: "NoSpot comes with spot: true",
    change: (d) => computing(d, { spot_strategy: "NoSpot", spot: true }),
    path: "cloud.computing.spot_strategy",
    says: "conflicts",
  },
  {
    when: "spot: false comes with a price",
    change: (d) => computing(d, { spot: false, max_price: 1 }),
    path: "cloud.computing.spot",
    says: "conflicts with max_price",
  },
  {
    when: "SpotWithPriceLimit has no price",
    change: (d) => computing(d, { spot_strategy: "SpotWithPriceLimit" }),
    path: "cloud.computing.max_price",
    says: "is required",
  },
  {
    when: "SpotAsPriceGo has a price",
    change: (d) => computing(d, { spot_strategy: "SpotAsPriceGo", max_price: 2 }),
    path: "cloud.computing.max_price",
    says: "left out",
  },
  {
    when: "an instance's spot_price_limit is negative",
    change: (d) => computing(d, { instances: [{ type: "ecs.c7.large", spot_price_limit: -1 }] }),
    path: "cloud.computing.instances[0].spot_price_limit",
  },
  // service type and queue
  { when: "the type is unknown", change: (d) => (meta(d).type = "Offline"), path: "metadata.type", says: '"Standard" or "Async"' },
  { when: "the type is lower case", change: (d) => (meta(d).type = "async"), path: "metadata.type", says: 'got "async"' },
  {
    when: "a queue section comes without type Async",
    change: (d) => (d.queue = { max_length: 10 }),
    path: "queue",
    says: 'set metadata.type to "Async"',
  },
  ...(
    [
      ["max_length", 0],
      ["max_length", 1.5],
      ["max_payload_size_kb", 2048],
      ["max_attempts", 0],
      ["max_attempts", 101],
      ["request_timeout_ms", -1],
      ["result_retention_seconds", "1d"],
    ] as const
  ).map(([key, value]): Case => ({
    when: `queue.${key} is ${JSON.stringify(value)}`,
    change: (d) => {
      meta(d).type = "Async";
      d.queue = { [key]: value };
    },
    path: `queue.${key}`,
    says: "an integer from",
  })),
  {
    when: "a queue key is misspelled",
    change: (d) => {
      meta(d).type = "Async";
      d.queue = { max_lenght: 5 };
    },
    path: "queue.max_lenght",
    says: 'did you mean "max_length"',
  },
  // labels
  { when: "labels is a list", change: (d) => (d.labels = ["a"]), path: "labels", says: "a map of strings" },
  { when: "a label key has spaces", change: (d) => (d.labels = { "my team": "x" }), path: 'labels["my team"]', says: "label key" },
  { when: "a label value is an object", change: (d) => (d.labels = { team: { a: 1 } }), path: "labels.team" },
  { when: "a label value is too long", change: (d) => (d.labels = { team: "x".repeat(300) }), path: "labels.team" },
  // document
  { when: "a top-level key is misspelled", change: (d) => (d.storgae = []), path: "storgae", says: 'did you mean "storage"' },
];

describe("field rules: each invalid field yields an issue whose path names it", () => {
  for (const testCase of cases) {
    it(`when ${testCase.when} -> ${testCase.path || "(document)"}`, () => {
      const doc = (testCase.base ?? containerDoc)();
      testCase.change(doc);
      assertIssue(issuesOf(validateServiceDocument(doc)), testCase.path, testCase.says);
    });
  }
});

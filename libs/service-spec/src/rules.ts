import * as z from "zod";

import { describeValue } from "./issues.js";

/**
 * Service names: a lowercase letter, then lowercase letters, digits or underscores, 63 characters at most
 * (EAS's rule). The name becomes part of event stream ids, NATS subjects and URLs (`/api/predict/{name}`),
 * so dots, dashes, wildcards and spaces are excluded.
 */
export const SERVICE_NAME_PATTERN = /^[a-z][a-z0-9_]{0,62}$/;

/** The processors the agent runs without user code (loadgen: the load workers of stress tests, docs/stress-tests.md). */
export const BUILT_IN_PROCESSORS = ["onnx", "echo", "loadgen"] as const;
export type BuiltInProcessor = (typeof BUILT_IN_PROCESSORS)[number];

/** Processors that cannot start without `model_path`. */
export const PROCESSORS_NEEDING_MODEL: readonly BuiltInProcessor[] = ["onnx"];

/** Values used where the document is silent. */
export const SPEC_DEFAULTS = {
  instance: 1,
  /** 1 core. */
  cpuMillis: 1000,
  /** EAS's `memory` is in MB; taken as MiB as given. */
  memoryMib: 1024,
  gpu: 0,
  gpuMemoryGib: 0,
  /** EAS `rpc.keepalive`: request timeout. */
  keepaliveMs: 5000,
  /** EAS `rpc.worker_threads`. */
  maxConcurrency: 5,
  /** EAS `rpc.max_queue_size`. */
  maxQueueSize: 64,
  /** EAS `rpc.rate_limit`; 0 = no limit. */
  rateLimit: 0,
  /** EAS's default container port. */
  port: 8000,
  /** Processor config when none is given. */
  configJson: "{}",
} as const;

/** Probe timings where a probe leaves them out: Kubernetes' defaults. */
export const PROBE_DEFAULTS = {
  initialDelayMs: 0,
  periodMs: 10_000,
  timeoutMs: 1_000,
  failureThreshold: 3,
} as const;

export const UINT32_MAX = 4_294_967_295;

/**
 * A field schema with one message per field: "is required" when absent, otherwise "must be <expected>, got <value>"
 * (or the whole message `expected` returns). zod's own checks would report several issues for one bad value;
 * users need one clear line.
 */
export function rule<T>(test: (value: unknown) => value is T, expected: string | ((value: unknown) => string)) {
  return z.custom<T>((value) => test(value), {
    // z.custom aborts by default, which would skip the cross-field checks of every enclosing object.
    abort: false,
    error: (issue) => {
      if (issue.input === undefined) return "is required";
      return typeof expected === "string" ? mustBe(expected, issue.input) : expected(issue.input);
    },
  });
}

/** `must be <expected>, got <value>`. */
export function mustBe(expected: string, value: unknown): string {
  return `must be ${expected}, got ${describeValue(value)}`;
}

/** A schema that rejects any value it is given, with `message`; for known EAS fields we refuse. */
export function refused(message: string) {
  return z.custom<never>(() => false, { abort: false, error: message }).optional();
}

/** A known EAS field we accept and ignore (a warning says so). */
export function ignored() {
  return z.unknown().optional();
}

export function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

/** True when `value` refers back to itself (recursive YAML aliases, or a hand-built object); such input is refused. */
export function containsCycle(value: unknown, ancestors: Set<object> = new Set()): boolean {
  if (typeof value !== "object" || value === null) return false;
  if (ancestors.has(value)) return true;
  ancestors.add(value);
  const cyclic = Object.values(value).some((child) => containsCycle(child, ancestors));
  ancestors.delete(value);
  return cyclic;
}

function isInteger(min: number, max: number) {
  return (value: unknown): value is number => typeof value === "number" && Number.isInteger(value) && value >= min && value <= max;
}

/** True when `value` has at most three decimals, so value * 1000 is a whole number. */
function hasMilliPrecision(value: number): boolean {
  return Math.abs(value * 1000 - Math.round(value * 1000)) < 1e-6;
}

export const positiveInt = rule(isInteger(1, UINT32_MAX), "a positive integer");
export const nonNegativeInt = rule(isInteger(0, UINT32_MAX), "an integer >= 0");
/** Replicas per service: a ceiling that catches a typo (20000 for 2) before the scheduler tries to place it. */
export const MAX_INSTANCES = 1000;
export const instanceCount = rule(isInteger(0, MAX_INSTANCES), `an integer from 0 to ${MAX_INSTANCES}`);
export const portNumber = rule(isInteger(1, 65_535), "a port number from 1 to 65535");
export const bool = rule((value): value is boolean => typeof value === "boolean", "true or false");

/** CPU cores: 2, 0.5, 0.25 (millicore precision). */
export const cores = rule(
  (value): value is number =>
    typeof value === "number" && Number.isFinite(value) && value > 0 && value * 1000 <= UINT32_MAX && hasMilliPrecision(value),
  "a number of cores > 0 with at most 3 decimals (e.g. 2 or 0.5)",
);

/** Probe durations in seconds, with millisecond precision; `> 0` unless `allowZero`. */
export function seconds(allowZero: boolean) {
  return rule(
    (value): value is number =>
      typeof value === "number" &&
      Number.isFinite(value) &&
      (allowZero ? value >= 0 : value > 0) &&
      value * 1000 <= UINT32_MAX &&
      hasMilliPrecision(value),
    allowZero ? "a number of seconds >= 0" : "a number of seconds > 0",
  );
}

/** A spot price ceiling per hour. */
export const price = rule((value): value is number => typeof value === "number" && Number.isFinite(value) && value > 0, "a price > 0");

export const string = rule((value): value is string => typeof value === "string", "a string");
export const nonEmptyString = rule((value): value is string => typeof value === "string" && value.trim() !== "", "a non-empty string");

export const serviceName = rule(
  (value): value is string => typeof value === "string" && SERVICE_NAME_PATTERN.test(value),
  "a service name: a lowercase letter, then lowercase letters, digits or underscores, at most 63 characters",
);

const RESOURCE_GROUP_PATTERN = /^[A-Za-z0-9][A-Za-z0-9_-]{0,62}$/;
/** A dedicated resource group id; "" is the public pool. */
export const resourceGroup = rule(
  (value): value is string => typeof value === "string" && (value === "" || RESOURCE_GROUP_PATTERN.test(value)),
  'a resource group id (letters, digits, "_" or "-", at most 63 characters) or "" for the public pool',
);

const GPU_TYPE_PATTERN = /^[A-Za-z0-9._ -]{0,64}$/;
export const gpuType = rule(
  (value): value is string => typeof value === "string" && GPU_TYPE_PATTERN.test(value),
  'a GPU type such as "A10" or "T4" (letters, digits, ".", "_", "-", at most 64 characters)',
);

/** A start command line, run by a shell. */
export const commandLine = rule(
  (value): value is string => typeof value === "string" && value.trim() !== "",
  "a non-empty command line string",
);

const ENV_NAME_PATTERN = /^[A-Za-z_][A-Za-z0-9_]*$/;
export const envName = rule(
  (value): value is string => typeof value === "string" && ENV_NAME_PATTERN.test(value),
  "an environment variable name (letters, digits and _, not starting with a digit)",
);

/** Scalars a YAML author may write unquoted (`value: 8000`); they become strings. */
export const scalarString = rule(
  (value): value is string | number | boolean =>
    typeof value === "string" || typeof value === "boolean" || (typeof value === "number" && Number.isFinite(value)),
  "a string",
);

const LABEL_KEY_PATTERN = /^[A-Za-z0-9]([A-Za-z0-9._/-]{0,61}[A-Za-z0-9])?$/;
/** Label keys in the Kubernetes style: `team`, `app.kubernetes.io/name`. */
export function labelKeyProblem(key: string): string | undefined {
  return LABEL_KEY_PATTERN.test(key)
    ? undefined
    : 'is not a valid label key: letters, digits, ".", "_", "/" or "-", starting and ending with a letter or digit, at most 63 characters';
}
export const labelValue = rule(
  (value): value is string | number | boolean =>
    (typeof value === "string" && value.length <= 256) ||
    typeof value === "boolean" ||
    (typeof value === "number" && Number.isFinite(value)),
  "a string of at most 256 characters",
);

export const httpPath = rule(
  (value): value is string => typeof value === "string" && value.startsWith("/") && !/\s/.test(value),
  'an HTTP path starting with "/"',
);

/** Where a mount appears inside the instance: absolute, not `/`, no `..`. */
export const mountPath = rule(
  (value): value is string => typeof value === "string" && absolutePathProblem(value) === undefined,
  'an absolute path other than "/", without ".." segments',
);

export function absolutePathProblem(path: string): string | undefined {
  if (!path.startsWith("/")) return "not absolute";
  if (/[\0\r\n]/.test(path)) return "control characters";
  if (path.split("/").includes("..")) return 'contains ".."';
  if (normalizeMountPath(path) === "/") return 'is "/"';
  return undefined;
}

/** `/mnt//data/` -> `/mnt/data`. */
export function normalizeMountPath(path: string): string {
  const collapsed = path.replace(/\/+/g, "/");
  return collapsed.length > 1 && collapsed.endsWith("/") ? collapsed.slice(0, -1) : collapsed;
}

/** The outcome of reading a source URL: our canonical form, and whether it was spelled `oss://`. */
export type SourceReading = { ok: true; source: string; fromOss: boolean } | { ok: false; message: string };

const BUCKET_PATTERN = /^[A-Za-z0-9_-]+$/;
export const EMPTY_DIR_SOURCE = "empty_dir://";

/**
 * Reads a storage or model location. Accepted: `obj://bucket[/key]` (the built-in object store), `oss://bucket[/key]`
 * (EAS's spelling, read as the same bucket in our object store), `file:///abs/path`, a bare `/abs/path` (becomes
 * `file:///abs/path`), and `empty_dir://` where `allowEmptyDir`.
 */
export function readSource(raw: string, allowEmptyDir: boolean): SourceReading {
  const expected = allowEmptyDir
    ? "obj://bucket/key, oss://bucket/key, file:///absolute/path, an absolute path or empty_dir://"
    : "obj://bucket/key, oss://bucket/key, file:///absolute/path or an absolute path";
  if (raw === EMPTY_DIR_SOURCE && allowEmptyDir) return { ok: true, source: raw, fromOss: false };
  const object = /^(obj|oss):\/\/([^/]*)(\/.*)?$/.exec(raw);
  if (object) {
    const [, scheme, bucket = "", key = ""] = object;
    if (!BUCKET_PATTERN.test(bucket))
      return { ok: false, message: `has an invalid bucket name ${JSON.stringify(bucket)} (letters, digits, "_" or "-")` };
    if (key.split("/").includes("..") || /[\0\r\n]/.test(key))
      return { ok: false, message: 'has an invalid key (no ".." segments or control characters)' };
    return { ok: true, source: `obj://${bucket}${key}`, fromOss: scheme === "oss" };
  }
  if (raw.startsWith("file://")) {
    const path = raw.slice("file://".length);
    const problem = path.startsWith("/") ? localPathProblem(path) : "is not absolute (file:///absolute/path)";
    return problem ? { ok: false, message: `has a path that ${problem}` } : { ok: true, source: `file://${path}`, fromOss: false };
  }
  if (raw.startsWith("/")) {
    const problem = localPathProblem(raw);
    return problem ? { ok: false, message: `has a path that ${problem}` } : { ok: true, source: `file://${raw}`, fromOss: false };
  }
  if (/^https?:\/\//.test(raw)) {
    return {
      ok: false,
      message: "is an http(s) URL, which is not supported yet: upload the files to the object store and use obj://bucket/key",
    };
  }
  const scheme = /^([A-Za-z][A-Za-z0-9+.-]*):\/\//.exec(raw)?.[1];
  if (scheme) return { ok: false, message: `has an unsupported scheme "${scheme}://" (use ${expected})` };
  return { ok: false, message: `must be ${expected}` };
}

function localPathProblem(path: string): string | undefined {
  if (/[\0\r\n]/.test(path)) return "contains control characters";
  if (path.split("/").includes("..")) return 'contains ".."';
  return undefined;
}

/** A source string (storage `source`, `model_path`, `oss.path`), checked with {@link readSource}. */
export function sourceString(allowEmptyDir: boolean) {
  return rule(
    (value): value is string => typeof value === "string" && readSource(value, allowEmptyDir).ok,
    (value) => {
      const reading = typeof value === "string" ? readSource(value, allowEmptyDir) : undefined;
      if (reading === undefined) return mustBe("a location such as obj://bucket/key", value);
      return reading.ok ? "is valid" : `${reading.message}, got ${describeValue(value)}`;
    },
  );
}

import { existsSync } from "node:fs";
import { createRequire } from "node:module";
import { basename, join } from "node:path";
import { pathToFileURL } from "node:url";
import type { Probe, ServiceSpec, StorageMount } from "@eas/proto";
import { archiveKind, normalizeMountPath, parseSource, type MountedPath } from "../storage/index.js";
import type { ProbeConfig, ResolvedCommand } from "./types.js";

/** Where a processor's `model_path` is mounted when it names a source rather than a mount path. */
export const MODEL_MOUNT_PATH = "/eas/model";

/** The spec cannot be run: no runtime, an empty command, an unknown processor, a bad probe. */
export class RuntimeSpecError extends Error {
  /** The offending spec field, e.g. "processor.name". */
  readonly field: string;
  readonly retryable = false;
  constructor(field: string, message: string) {
    super(`${field}: ${message}`);
    this.name = new.target.name;
    this.field = field;
  }
}

export interface ResolveOptions {
  /** Root of the EAS checkout: built-in processors live in `<repoRoot>/processors/<name>/src/main.ts`. */
  repoRoot: string;
  /** The instance folder: working folder of the process, parent of `mounts/` and `logs/`. */
  instanceDir: string;
  /** Free port the agent picked for this instance. */
  port: number;
  instanceId: string;
  version: number;
  /** Added last, overriding everything (e.g. OTEL_* settings of the agent). */
  extraEnv?: Record<string, string>;
  /**
   * Inherited part of the environment. Defaults to a few harmless variables of the
   * agent (PATH, HOME, LANG, LC_ALL, TZ, TMPDIR): the agent's own settings and
   * credentials do not leak into user code.
   */
  baseEnv?: Record<string, string>;
  /** Node binary for processors; defaults to the agent's own (`process.execPath`). */
  nodeBinary?: string;
}

const INHERITED_ENV = ["PATH", "HOME", "LANG", "LC_ALL", "TZ", "TMPDIR"];

/** Probe defaults (Kubernetes' values, with a 1 s readiness period so instances turn Ready promptly). */
export const DEFAULT_READINESS: Omit<ProbeConfig, "kind" | "path" | "port"> = {
  initialDelayMs: 0,
  periodMs: 1_000,
  timeoutMs: 1_000,
  failureThreshold: 3,
};
export const DEFAULT_LIVENESS: Omit<ProbeConfig, "kind" | "path" | "port"> = {
  initialDelayMs: 0,
  periodMs: 10_000,
  timeoutMs: 1_000,
  failureThreshold: 3,
};

/** Probe targets of a built-in processor. */
export interface ProcessorProbes {
  readiness: Pick<ProbeConfig, "kind" | "path">;
  liveness?: Pick<ProbeConfig, "kind" | "path">;
}

/**
 * The health endpoints each built-in processor serves (see processors/<name>/src/server.ts).
 * A processor not listed gets a TCP readiness probe and no liveness probe.
 */
export const PROCESSOR_PROBES: Readonly<Record<string, ProcessorProbes>> = {
  // Open Inference Protocol v2: ready answers 503 until the model is loaded.
  onnx: { readiness: { kind: "http", path: "/v2/health/ready" }, liveness: { kind: "http", path: "/v2/health/live" } },
  echo: { readiness: { kind: "http", path: "/healthz" }, liveness: { kind: "http", path: "/livez" } },
  // A stress test's load worker (docs/stress-tests.md).
  loadgen: { readiness: { kind: "http", path: "/healthz" }, liveness: { kind: "http", path: "/livez" } },
};

const PROCESSOR_NAME = /^[a-z0-9][a-z0-9_-]*$/;

/**
 * The extra mount a processor's `model_path` needs, if any. A `model_path` at or under
 * one of the spec's mount paths refers to that mount and needs none. Otherwise it is a
 * source (`obj://`, `file://`, an absolute path) mounted read-only at `/eas/model`, or
 * at `/eas/model/<its file or folder name>` so the processor sees the original name
 * (`resnet.onnx`); archives and prefixes are unpacked straight into `/eas/model`.
 */
export function modelMountFor(spec: ServiceSpec): StorageMount | undefined {
  if (spec.runtime?.$case !== "processor") return undefined;
  const modelPath = spec.runtime.value.modelPath;
  if (!modelPath) return undefined;
  if (
    isUnderMount(
      modelPath,
      spec.storage.map((mount) => mount.mountPath),
    )
  )
    return undefined;
  const parsed = parseSource(modelPath);
  let name = "";
  if (parsed.kind === "obj" && !parsed.prefix) name = parsed.key.split("/").pop() ?? "";
  if (parsed.kind === "local") name = basename(parsed.path);
  const mountPath = name && !archiveKind(name) ? `${MODEL_MOUNT_PATH}/${name}` : MODEL_MOUNT_PATH;
  return { mountPath, source: modelPath, readOnly: true };
}

/** Every mount an instance of `spec` needs: the spec's storage plus the processor's model, if it is a source. */
export function mountsForSpec(spec: ServiceSpec): StorageMount[] {
  const model = modelMountFor(spec);
  return model ? [...spec.storage, model] : [...spec.storage];
}

/**
 * Rewrites every mount path that appears at a path boundary in `text` to its local path:
 * with `/home/admin/model` mounted, `python /home/admin/model/app.py --dir=/home/admin/model`
 * becomes `python <instanceDir>/mounts/home/admin/model/app.py --dir=<...>/model`, while
 * `/home/admin/models` and `/x/home/admin/model` are left alone. A boundary is: not preceded
 * by a path character (letter, digit, `.`, `_`, `~`, `-`, `/`) and not followed by one other
 * than `/`. The process driver has no container, so this keeps EAS service files that
 * hard-code their mount paths working. Local paths are inserted verbatim (no shell quoting):
 * the agent chooses instance folders without spaces or shell metacharacters.
 */
export function rewriteMountPaths(text: string, mounts: readonly MountedPath[]): string {
  if (mounts.length === 0) return text;
  const byPath = new Map(mounts.map((mount) => [normalizeMountPath(mount.mountPath), mount.localPath]));
  const alternatives = [...byPath.keys()].sort((a, b) => b.length - a.length).map(escapeRegExp);
  const pattern = new RegExp(`(?<![A-Za-z0-9._~/-])(${alternatives.join("|")})(?![A-Za-z0-9._~-])`, "g");
  return text.replace(pattern, (match) => byPath.get(match) ?? match);
}

/**
 * Turns a spec into what the process driver runs.
 *
 * Container mode: `container.command` run with `/bin/sh -c` in the instance folder.
 * Processor mode: `node --conditions=source --import <tsx loader> <repoRoot>/processors/<name>/src/main.ts`,
 * tsx given by absolute path so it resolves whatever the working folder; with
 * `EAS_MODEL_PATH` (local path of the model), `EAS_PROCESSOR_CONFIG` (the config JSON,
 * `{}` when empty) and `EAS_PROCESSOR` (the name); probes from `PROCESSOR_PROBES`.
 *
 * Environment, later entries winning: `baseEnv`; the user's env vars (mount paths
 * rewritten as in the command line); `PORT` and `LISTENING_PORT` (EAS's name) = `opts.port`,
 * `EAS_INSTANCE_ID`, `EAS_SERVICE_NAME`, `EAS_SERVICE_VERSION`, `EAS_MOUNTS` (JSON
 * `{ mountPath: localPath }`); `extraEnv`.
 *
 * The spec's `container.port` is ignored: it is the port inside a container, where every
 * instance has its own network namespace. Processes share the node's ports, so each
 * instance gets a free port from the agent through `PORT`/`LISTENING_PORT`, and probes
 * always target that port (a probe's own `port` is ignored too).
 *
 * @param mounts the materialized `mountsForSpec(spec)`
 * @throws RuntimeSpecError when the spec cannot be run
 */
export function resolveRuntime(spec: ServiceSpec, mounts: readonly MountedPath[], opts: ResolveOptions): ResolvedCommand {
  const runtime = spec.runtime;
  if (!runtime) throw new RuntimeSpecError("runtime", "the spec has neither a container nor a processor");
  const env: Record<string, string> = { ...(opts.baseEnv ?? defaultBaseEnv()) };
  const system: Record<string, string> = {
    PORT: String(opts.port),
    LISTENING_PORT: String(opts.port),
    EAS_INSTANCE_ID: opts.instanceId,
    EAS_SERVICE_NAME: spec.name,
    EAS_SERVICE_VERSION: String(opts.version),
    EAS_MOUNTS: JSON.stringify(Object.fromEntries(mounts.map((mount) => [mount.mountPath, mount.localPath]))),
  };
  const base = { cwd: opts.instanceDir, instanceDir: opts.instanceDir, port: opts.port };

  if (runtime.$case === "container") {
    const container = runtime.value;
    if (!container.command.trim()) throw new RuntimeSpecError("container.command", "is empty");
    for (const variable of container.env) env[variable.name] = rewriteMountPaths(variable.value, mounts);
    const liveness = probeConfig("container.liveness", container.liveness, DEFAULT_LIVENESS, opts.port);
    return {
      ...base,
      command: rewriteMountPaths(container.command, mounts),
      env: { ...env, ...system, ...opts.extraEnv },
      readiness: probeConfig("container.readiness", container.readiness, DEFAULT_READINESS, opts.port) ?? {
        kind: "tcp",
        path: "/",
        port: opts.port,
        ...DEFAULT_READINESS,
      },
      ...(liveness ? { liveness } : {}),
    };
  }

  const processor = runtime.value;
  if (!PROCESSOR_NAME.test(processor.name)) {
    throw new RuntimeSpecError("processor.name", `"${processor.name}" is not a built-in processor name`);
  }
  const main = join(opts.repoRoot, "processors", processor.name, "src", "main.ts");
  if (!existsSync(main)) throw new RuntimeSpecError("processor.name", `unknown processor "${processor.name}" (no ${main})`);
  if (processor.configJson) {
    try {
      JSON.parse(processor.configJson);
    } catch {
      throw new RuntimeSpecError("processor.config", "is not valid JSON");
    }
  }
  system.EAS_PROCESSOR = processor.name;
  system.EAS_PROCESSOR_CONFIG = processor.configJson || "{}";
  const modelPath = processorModelPath(spec, mounts);
  if (modelPath !== undefined) system.EAS_MODEL_PATH = modelPath;
  const probes = PROCESSOR_PROBES[processor.name] ?? { readiness: { kind: "tcp", path: "/" } };
  return {
    ...base,
    command: opts.nodeBinary ?? process.execPath,
    args: ["--conditions=source", "--import", tsxLoader(opts.repoRoot), main],
    env: { ...env, ...system, ...opts.extraEnv },
    readiness: { ...probes.readiness, port: opts.port, ...DEFAULT_READINESS },
    ...(probes.liveness ? { liveness: { ...probes.liveness, port: opts.port, ...DEFAULT_LIVENESS } } : {}),
  };
}

function processorModelPath(spec: ServiceSpec, mounts: readonly MountedPath[]): string | undefined {
  if (spec.runtime?.$case !== "processor" || !spec.runtime.value.modelPath) return undefined;
  const model = modelMountFor(spec);
  if (!model) return rewriteMountPaths(spec.runtime.value.modelPath, mounts);
  const mounted = mounts.find((mount) => normalizeMountPath(mount.mountPath) === model.mountPath);
  if (!mounted) {
    throw new RuntimeSpecError(
      "processor.model_path",
      `${spec.runtime.value.modelPath} was not materialized at ${model.mountPath} (materialize mountsForSpec(spec))`,
    );
  }
  return mounted.localPath;
}

function probeConfig(
  field: string,
  probe: Probe | undefined,
  defaults: Omit<ProbeConfig, "kind" | "path" | "port">,
  port: number,
): ProbeConfig | undefined {
  if (!probe || !probe.kind) return undefined;
  if (probe.kind !== "http" && probe.kind !== "tcp") {
    throw new RuntimeSpecError(`${field}.kind`, `"${probe.kind}" is not "http" or "tcp"`);
  }
  return {
    kind: probe.kind,
    path: probe.path ? (probe.path.startsWith("/") ? probe.path : `/${probe.path}`) : "/",
    port,
    initialDelayMs: probe.initialDelayMs || defaults.initialDelayMs,
    periodMs: probe.periodMs || defaults.periodMs,
    timeoutMs: probe.timeoutMs || defaults.timeoutMs,
    failureThreshold: probe.failureThreshold || defaults.failureThreshold,
  };
}

function tsxLoader(repoRoot: string): string {
  try {
    return pathToFileURL(createRequire(join(repoRoot, "package.json")).resolve("tsx")).href;
  } catch (error) {
    throw new RuntimeSpecError("processor", `tsx is not installed under ${repoRoot}: ${String(error)}`);
  }
}

function isUnderMount(path: string, mountPaths: readonly string[]): boolean {
  return mountPaths.some((mountPath) => {
    const normalized = mountPath.replace(/\/+$/, "");
    return path === normalized || path.startsWith(`${normalized}/`);
  });
}

function defaultBaseEnv(): Record<string, string> {
  const env: Record<string, string> = {};
  for (const name of INHERITED_ENV) {
    const value = process.env[name];
    if (value !== undefined) env[name] = value;
  }
  return env;
}

function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
}

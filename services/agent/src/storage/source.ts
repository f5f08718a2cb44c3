import { posix, join, resolve as resolvePath } from "node:path";
import { fileURLToPath } from "node:url";
import { isObjectUrl, ObjectUrlError, parseObjectUrl } from "@eas/object-store";
import { StorageError, StorageErrorReason } from "./errors.js";

/** A storage source, parsed. */
export type ParsedSource =
  /** `obj://bucket/key`; `prefix` is set when the key ends in `/` (or is empty): every object under it. */
  | { kind: "obj"; bucket: string; key: string; prefix: boolean }
  /** `file:///abs/path` or `/abs/path`. */
  | { kind: "local"; path: string }
  /** `empty_dir://`: a fresh empty folder per instance. */
  | { kind: "empty" };

/** Archive formats unpacked after fetching; the name decides, as EAS does for `model_path`. */
export type ArchiveKind = "tar.gz" | "tar" | "zip";

/** Parses a mount source; throws `StorageError` (bad-url) for anything we cannot serve. */
export function parseSource(source: string): ParsedSource {
  const bad = (detail: string) => new StorageError(source, StorageErrorReason.BadUrl, detail);
  if (source.startsWith("empty_dir:")) return { kind: "empty" };
  if (isObjectUrl(source)) {
    try {
      return { kind: "obj", ...parseObjectUrl(source) };
    } catch (error) {
      if (!(error instanceof ObjectUrlError)) throw error;
      throw bad(error.message);
    }
  }
  if (source.startsWith("file:")) {
    let path: string;
    try {
      path = fileURLToPath(source);
    } catch (error) {
      throw new StorageError(source, StorageErrorReason.BadUrl, "not a local file URL (use file:///abs/path)", {
        cause: error,
      });
    }
    return { kind: "local", path: resolvePath(path) };
  }
  if (source.startsWith("/")) return { kind: "local", path: resolvePath(source) };
  throw bad("unsupported source (use obj://bucket/key, file:///abs/path, an absolute path or empty_dir://)");
}

/** The archive format a name denotes, if any. */
export function archiveKind(name: string): ArchiveKind | undefined {
  const lower = name.toLowerCase();
  if (lower.endsWith(".tar.gz") || lower.endsWith(".tgz")) return "tar.gz";
  if (lower.endsWith(".tar")) return "tar";
  if (lower.endsWith(".zip")) return "zip";
  return undefined;
}

/** Normalizes a mount path (`/home/admin/model/` -> `/home/admin/model`); throws bad-mount if unusable. */
export function normalizeMountPath(mountPath: string, source = mountPath): string {
  if (!mountPath.startsWith("/")) {
    throw new StorageError(source, StorageErrorReason.BadMount, `mount path "${mountPath}" must be absolute`);
  }
  const normalized = posix.normalize(mountPath).replace(/\/+$/, "");
  if (normalized === "" || mountPath.split("/").includes("..")) {
    throw new StorageError(source, StorageErrorReason.BadMount, `mount path "${mountPath}" must name a folder below / without ".."`);
  }
  return normalized;
}

/**
 * Where a mount path lives on the node: the process driver has no container, so
 * `/home/admin/model` becomes `<instanceDir>/mounts/home/admin/model`.
 */
export function mountLocation(instanceDir: string, mountPath: string): string {
  return join(instanceDir, "mounts", normalizeMountPath(mountPath).slice(1));
}

/**
 * Rejects duplicate and nested mount paths: a mount inside another would be created
 * inside that mount's target, which may be the shared cache.
 */
export function assertDisjointMounts(mounts: ReadonlyArray<{ mountPath: string; source: string }>): void {
  const seen = mounts
    .map((mount) => ({ path: normalizeMountPath(mount.mountPath, mount.source), source: mount.source }))
    .sort((a, b) => a.path.localeCompare(b.path));
  for (let i = 0; i < seen.length; i++) {
    for (let j = i + 1; j < seen.length; j++) {
      const outer = seen[i]!;
      const inner = seen[j]!;
      if (inner.path === outer.path || inner.path.startsWith(`${outer.path}/`)) {
        throw new StorageError(inner.source, StorageErrorReason.BadMount, `mount path ${inner.path} overlaps mount path ${outer.path}`);
      }
    }
  }
}

/**
 * The relative file path of an object listed under a prefix (`models/resnet/` +
 * `models/resnet/v1/model.onnx` -> `v1/model.onnx`); undefined for folder markers.
 * Throws bad-url when a key would escape the mount folder (`..`).
 */
export function relativeKeyPath(source: string, prefix: string, key: string): string | undefined {
  const parts = key
    .slice(prefix.length)
    .split("/")
    .filter((part) => part !== "" && part !== ".");
  if (parts.includes("..")) {
    throw new StorageError(source, StorageErrorReason.BadUrl, `object key "${key}" escapes its folder`);
  }
  return parts.length === 0 ? undefined : parts.join("/");
}

import { execFile } from "node:child_process";
import { createHash, randomUUID } from "node:crypto";
import { createWriteStream } from "node:fs";
import { chmod, copyFile, cp, link, mkdir, mkdtemp, readdir, rename, rm, stat, symlink } from "node:fs/promises";
import { basename, dirname, join } from "node:path";
import { Readable } from "node:stream";
import { pipeline } from "node:stream/promises";
import type { ReadableStream as NodeReadableStream } from "node:stream/web";
import type { StorageMount } from "@eas/proto";
import { StorageError, StorageErrorReason } from "./errors.js";
import {
  archiveKind,
  assertDisjointMounts,
  mountLocation,
  normalizeMountPath,
  parseSource,
  relativeKeyPath,
  type ArchiveKind,
} from "./source.js";

/** The fields of a NATS Object Store entry the fetcher reads (`ObjectInfo` from @nats-io/obj). */
export interface ObjectInfoLike {
  name: string;
  size: number;
  digest: string;
  deleted: boolean;
  nuid: string;
}

/** The read side of one bucket (`ObjectStore` from @nats-io/obj satisfies it). */
export interface ObjectStoreLike {
  info(name: string): Promise<ObjectInfoLike | null>;
  list(): Promise<ObjectInfoLike[]>;
  get(
    name: string,
  ): Promise<{ info: ObjectInfoLike; data: ReadableStream<Uint8Array>; error: Promise<Error | null> } | null>;
}

/** Opens buckets by name (`new Objm(nc)` from @nats-io/obj satisfies it). */
export interface ObjectStoreOpener {
  open(bucket: string): Promise<ObjectStoreLike>;
}

/** A mount laid out for one instance: `localPath` is where `mountPath` lives on this node. */
export interface MountedPath {
  /** The mount path from the spec, normalized (`/home/admin/model`). */
  mountPath: string;
  /** `<instanceDir>/mounts/<mountPath>`: a symlink into the cache or to a local path, a private copy, or a folder. */
  localPath: string;
}

export interface StorageFetcherOptions {
  /** Content-addressed cache shared by every instance of this agent. */
  cacheDir: string;
  /** Needed for `obj://` sources; pass `new Objm(nc)`. */
  objectStore?: ObjectStoreOpener;
  /**
   * How a writable (`readOnly: false`) `obj://` mount is laid out. "copy" (default)
   * gives the instance a private copy so its writes cannot corrupt the shared cache
   * or another instance; "link" symlinks into the cache like a read-only mount.
   */
  writableObjectMounts?: "copy" | "link";
}

/** Fetches and lays out an instance's storage mounts. */
export interface StorageFetcher {
  /**
   * Fetches every source (cache first) and lays it out under `<instanceDir>/mounts/`.
   * Re-running it for the same folder replaces the previous layout.
   * @throws StorageError naming the source that failed.
   */
  materialize(mounts: readonly StorageMount[], instanceDir: string): Promise<MountedPath[]>;
}

/** A fetched source: the path in the cache (or on the node) the mount points at. */
interface Fetched {
  target: string;
  /** True when `target` is in the shared cache, so a writable mount must not link to it. */
  shared: boolean;
}

/**
 * Builds a storage fetcher over a content-addressed cache:
 * `objects/<sha256>` (one file per object digest, read-only), `unpacked/<sha256>/`
 * (an archive's contents), `trees/<sha256>/` (a prefix's objects as a folder of hard
 * links). Entries are built under `tmp/` and renamed into place, so a crash never
 * leaves a partial entry, and an existing entry is always complete.
 *
 * Archives (`.tar.gz`, `.tgz`, `.tar`, `.zip`) fetched as a single object are unpacked
 * with the system `tar` and `unzip` commands (Node has no built-in tar; both ship with Debian).
 */
export function createStorageFetcher(options: StorageFetcherOptions): StorageFetcher {
  const cacheDir = options.cacheDir;
  const writableMode = options.writableObjectMounts ?? "copy";
  const tmpDir = join(cacheDir, "tmp");
  // Two instances of one service start together: the second waits for the first's download.
  const inflight = new Map<string, Promise<string>>();

  function once(finalPath: string, build: () => Promise<string>): Promise<string> {
    const running = inflight.get(finalPath);
    if (running) return running;
    const promise = build().finally(() => inflight.delete(finalPath));
    inflight.set(finalPath, promise);
    return promise;
  }

  async function openBucket(source: string, bucket: string): Promise<ObjectStoreLike> {
    if (!options.objectStore) {
      throw new StorageError(source, StorageErrorReason.NoObjectStore, "this agent has no object store configured");
    }
    try {
      return await options.objectStore.open(bucket);
    } catch (error) {
      // The one place we read a vendor message: @nats-io/obj says "object store not found".
      if (error instanceof Error && /not found/i.test(error.message)) {
        throw new StorageError(source, StorageErrorReason.BucketNotFound, `bucket "${bucket}" not found`, {
          cause: error,
        });
      }
      throw new StorageError(source, StorageErrorReason.FetchFailed, `cannot open bucket "${bucket}"`, {
        cause: error,
      });
    }
  }

  async function fetchBlob(source: string, store: ObjectStoreLike, info: ObjectInfoLike): Promise<string> {
    const finalPath = join(cacheDir, "objects", digestKey(info));
    if (await exists(finalPath)) return finalPath;
    return once(finalPath, async () => {
      const result = await store.get(info.name);
      if (!result) throw new StorageError(source, StorageErrorReason.ObjectNotFound, `object "${info.name}" not found`);
      // The object may have been replaced since `info`; file it under the digest we actually read.
      const path = join(cacheDir, "objects", digestKey(result.info));
      const tmp = join(tmpDir, `${randomUUID()}.part`);
      await mkdir(tmpDir, { recursive: true });
      await mkdir(dirname(path), { recursive: true });
      try {
        await pipeline(Readable.fromWeb(result.data as NodeReadableStream<Uint8Array>), createWriteStream(tmp));
        const error = await result.error;
        if (error) throw error;
        await chmod(tmp, 0o444);
        await rename(tmp, path);
      } catch (error) {
        await rm(tmp, { force: true });
        if (error instanceof StorageError) throw error;
        throw new StorageError(source, StorageErrorReason.FetchFailed, `reading "${info.name}" failed`, {
          cause: error,
        });
      }
      return path;
    });
  }

  async function unpack(source: string, blob: string, kind: ArchiveKind): Promise<string> {
    const finalPath = join(cacheDir, "unpacked", basename(blob));
    if (await exists(finalPath)) return finalPath;
    return once(finalPath, async () => {
      await mkdir(tmpDir, { recursive: true });
      const tmp = await mkdtemp(join(tmpDir, "unpack-"));
      try {
        await unpackInto(blob, kind, tmp);
      } catch (error) {
        await rm(tmp, { recursive: true, force: true });
        throw new StorageError(source, StorageErrorReason.UnpackFailed, `cannot unpack ${kind} archive`, {
          cause: error,
        });
      }
      return await publishFolder(tmp, finalPath);
    });
  }

  async function fetchTree(
    source: string,
    store: ObjectStoreLike,
    prefix: string,
    infos: ObjectInfoLike[],
  ): Promise<string> {
    const entries: Array<{ rel: string; info: ObjectInfoLike }> = [];
    for (const info of infos) {
      const rel = relativeKeyPath(source, prefix, info.name);
      if (rel !== undefined) entries.push({ rel, info });
    }
    entries.sort((a, b) => a.rel.localeCompare(b.rel));
    const treeKey = createHash("sha256")
      .update(JSON.stringify(entries.map((entry) => [entry.rel, digestKey(entry.info)])))
      .digest("hex");
    const finalPath = join(cacheDir, "trees", treeKey);
    if (await exists(finalPath)) return finalPath;
    return once(finalPath, async () => {
      const blobs: string[] = [];
      // Sequential: objects arrive in chunks over one connection anyway, and it keeps memory flat.
      for (const entry of entries) blobs.push(await fetchBlob(source, store, entry.info));
      await mkdir(tmpDir, { recursive: true });
      const tmp = await mkdtemp(join(tmpDir, "tree-"));
      try {
        for (const [index, entry] of entries.entries()) {
          const target = join(tmp, entry.rel);
          await mkdir(dirname(target), { recursive: true });
          await linkOrCopy(blobs[index]!, target);
        }
      } catch (error) {
        await rm(tmp, { recursive: true, force: true });
        throw new StorageError(source, StorageErrorReason.FetchFailed, "cannot assemble folder", { cause: error });
      }
      return await publishFolder(tmp, finalPath);
    });
  }

  async function fetchObject(source: string, bucket: string, key: string, prefix: boolean): Promise<Fetched> {
    const store = await openBucket(source, bucket);
    if (!prefix) {
      const info = await store.info(key);
      if (info && !info.deleted) {
        const blob = await fetchBlob(source, store, info);
        const kind = archiveKind(key);
        return { target: kind ? await unpack(source, blob, kind) : blob, shared: true };
      }
    }
    // `obj://bucket/folder` without the trailing slash still means the folder `eas upload` made.
    const folderPrefix = prefix || key === "" ? key : `${key}/`;
    const listed = (await store.list()).filter((info) => !info.deleted && info.name.startsWith(folderPrefix));
    if (listed.length === 0) {
      const what = prefix ? `no objects under "${key}"` : `object "${key}" not found`;
      throw new StorageError(source, StorageErrorReason.ObjectNotFound, `${what} in bucket "${bucket}"`);
    }
    return { target: await fetchTree(source, store, folderPrefix, listed), shared: true };
  }

  async function fetchSource(mount: StorageMount): Promise<Fetched | undefined> {
    const parsed = parseSource(mount.source);
    switch (parsed.kind) {
      case "empty":
        return undefined;
      case "local": {
        if (!(await exists(parsed.path))) {
          throw new StorageError(mount.source, StorageErrorReason.PathNotFound, `${parsed.path} does not exist`);
        }
        return { target: parsed.path, shared: false };
      }
      case "obj":
        return await fetchObject(mount.source, parsed.bucket, parsed.key, parsed.prefix);
    }
  }

  async function materializeOne(mount: StorageMount, instanceDir: string): Promise<MountedPath> {
    const mountPath = normalizeMountPath(mount.mountPath, mount.source);
    const localPath = mountLocation(instanceDir, mountPath);
    const fetched = await fetchSource(mount);
    try {
      await rm(localPath, { recursive: true, force: true });
      await mkdir(dirname(localPath), { recursive: true });
      if (!fetched) {
        await mkdir(localPath);
      } else if (fetched.shared && !mount.readOnly && writableMode === "copy") {
        await cp(fetched.target, localPath, { recursive: true });
        await makeWritable(localPath);
      } else {
        await symlink(fetched.target, localPath);
      }
    } catch (error) {
      throw new StorageError(mount.source, StorageErrorReason.FetchFailed, `cannot lay out ${mountPath}`, {
        cause: error,
      });
    }
    return { mountPath, localPath };
  }

  let swept: Promise<void> | undefined;

  return {
    async materialize(mounts, instanceDir) {
      assertDisjointMounts(mounts);
      // Leftovers of a crashed agent: never renamed into the cache, so only disk space is at stake.
      swept ??= sweepStale(tmpDir, STALE_TEMPORARY_MS);
      await swept;
      const mounted: MountedPath[] = [];
      for (const mount of mounts) {
        try {
          mounted.push(await materializeOne(mount, instanceDir));
        } catch (error) {
          if (error instanceof StorageError) throw error;
          throw new StorageError(mount.source, StorageErrorReason.FetchFailed, "unexpected failure", { cause: error });
        }
      }
      return mounted;
    },
  };
}

/**
 * A file-name-safe cache key from an object's digest: NATS writes `SHA-256=<base64url>`,
 * which becomes the hex SHA-256. Unknown formats fall back to a hash of the object's identity,
 * which still lets a second instance reuse the entry.
 */
export function digestKey(info: Pick<ObjectInfoLike, "digest" | "name" | "nuid">): string {
  const match = /^SHA-256=([A-Za-z0-9_\-+/]+=*)$/i.exec(info.digest);
  if (match) {
    const hex = Buffer.from(match[1]!, "base64url").toString("hex");
    if (hex.length === 64) return hex;
  }
  return `id-${createHash("sha256").update(`${info.name}\0${info.nuid}\0${info.digest}`).digest("hex")}`;
}

// Older than any download could take: safe to delete even while another agent shares the cache.
const STALE_TEMPORARY_MS = 24 * 60 * 60 * 1000;

async function sweepStale(folder: string, olderThanMs: number): Promise<void> {
  let entries: string[];
  try {
    entries = await readdir(folder);
  } catch {
    return;
  }
  const cutoff = Date.now() - olderThanMs;
  for (const entry of entries) {
    const path = join(folder, entry);
    try {
      if ((await stat(path)).mtimeMs < cutoff) await rm(path, { recursive: true, force: true });
    } catch {
      // Gone already, or in use: either way not ours to worry about.
    }
  }
}

async function exists(path: string): Promise<boolean> {
  try {
    await stat(path);
    return true;
  } catch {
    return false;
  }
}

/** Renames a finished temporary folder into the cache; if another fetch won the race, keeps theirs. */
async function publishFolder(tmp: string, finalPath: string): Promise<string> {
  await mkdir(dirname(finalPath), { recursive: true });
  try {
    await rename(tmp, finalPath);
  } catch (error) {
    await rm(tmp, { recursive: true, force: true });
    if (!(await exists(finalPath))) throw error;
  }
  return finalPath;
}

async function linkOrCopy(from: string, to: string): Promise<void> {
  try {
    await link(from, to);
  } catch {
    await copyFile(from, to);
  }
}

async function makeWritable(path: string): Promise<void> {
  const info = await stat(path);
  if (info.isDirectory()) {
    await chmod(path, info.mode | 0o700);
    for (const entry of await readdir(path)) await makeWritable(join(path, entry));
  } else {
    await chmod(path, info.mode | 0o600);
  }
}

function run(command: string, args: string[]): Promise<void> {
  return new Promise((resolve, reject) => {
    execFile(command, args, { maxBuffer: 1024 * 1024 }, (error, _stdout, stderr) => {
      if (error) reject(new Error(`${command} ${args.join(" ")} failed: ${stderr.trim() || error.message}`));
      else resolve();
    });
  });
}

async function unpackInto(archive: string, kind: ArchiveKind, folder: string): Promise<void> {
  // GNU tar already refuses `..` members and strips leading `/`; --no-same-owner keeps
  // files owned by the agent even when it runs as root.
  switch (kind) {
    case "tar.gz":
      return await run("tar", ["-xzf", archive, "-C", folder, "--no-same-owner"]);
    case "tar":
      return await run("tar", ["-xf", archive, "-C", folder, "--no-same-owner"]);
    case "zip":
      return await run("unzip", ["-q", "-o", archive, "-d", folder]);
  }
}

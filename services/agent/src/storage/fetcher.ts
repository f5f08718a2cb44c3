import { execFile } from "node:child_process";
import { createHash, randomUUID } from "node:crypto";
import { createWriteStream } from "node:fs";
import { chmod, copyFile, cp, link, mkdir, mkdtemp, readdir, rename, rm, stat, symlink } from "node:fs/promises";
import { basename, dirname, join, relative, sep } from "node:path";
import { Readable } from "node:stream";
import { pipeline } from "node:stream/promises";
import type { ReadableStream as NodeReadableStream } from "node:stream/web";
import type { StorageMount } from "@eas/proto";
import { entriesInUse, measureCache, touchEntry } from "./cache.js";
import { StorageError, StorageErrorReason } from "./errors.js";
import { cacheEntryOf, isStaleTemporary, planEviction, type CacheEntry } from "./eviction.js";
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
  get(name: string): Promise<{ info: ObjectInfoLike; data: ReadableStream<Uint8Array>; error: Promise<Error | null> } | null>;
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
  /** Keeps the cache within a byte budget by deleting entries no instance uses; without it the cache only grows. */
  eviction?: CacheEvictionOptions;
}

export interface CacheEvictionOptions {
  /** The cache's byte budget; 0 means no limit (nothing is ever evicted). */
  maxBytes: number;
  /** `<nodeDir>/instances`: an entry linked from `<instancesDir>/<id>/mounts` is in use. */
  instancesDir: string;
  /** After every pass, also one that evicted nothing. */
  onPass?: (report: EvictionReport) => void;
  /** A pass that failed; nothing else is affected, and the next pass starts over. */
  onError?: (error: unknown) => void;
}

/** What one eviction pass did. */
export interface EvictionReport {
  maxBytes: number;
  /** The cache's size before the pass. */
  totalBytes: number;
  /** Deleted, least recently used first (paths relative to the cache folder). */
  evicted: CacheEntry[];
  /** The size after the pass; above `maxBytes` when the entries in use alone exceed it. */
  remainingBytes: number;
}

/** Fetches and lays out an instance's storage mounts. */
export interface StorageFetcher {
  /**
   * Fetches every source (cache first) and lays it out under `<instanceDir>/mounts/`.
   * Re-running it for the same folder replaces the previous layout.
   * @throws StorageError naming the source that failed.
   */
  materialize(mounts: readonly StorageMount[], instanceDir: string): Promise<MountedPath[]>;
  /**
   * Runs an eviction pass (materialize starts one after each call, in the background); resolves once a
   * pass that started after this call has ended. Never rejects: failures go to `eviction.onError`.
   * Does nothing without an `eviction` budget.
   */
  evictUnused(): Promise<void>;
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
 *
 * With `eviction`, every entry materialize uses gets its mtime set to now (last used), and after
 * each materialize a pass deletes entries least recently used first until the cache fits the budget.
 * It never deletes an entry an instance links to, one a materialize still holds (being fetched,
 * linked or copied), or a `tmp/` file younger than the day-old sweep. An entry is renamed into
 * `tmp/` before it is deleted, so a crash mid-delete never leaves a partial entry in place.
 */
export function createStorageFetcher(options: StorageFetcherOptions): StorageFetcher {
  const cacheDir = options.cacheDir;
  const writableMode = options.writableObjectMounts ?? "copy";
  const tmpDir = join(cacheDir, "tmp");
  // Two instances of one service start together: the second waits for the first's download.
  const inflight = new Map<string, Promise<string>>();
  // Entries (absolute paths) a running materialize uses, with how many hold each: an eviction pass
  // leaves them alone, as well as any entry held at some point while the pass runs (`passHeld`), since
  // the pass may have looked at the instances' links before the materialize linked the entry.
  const held = new Map<string, number>();
  let passHeld: Set<string> | undefined;
  // Entries being deleted: a materialize that needs one waits, then finds it gone and fetches it again.
  const evicting = new Map<string, Promise<void>>();

  /** Holds `path` for the materialize owning `claims`; call before looking whether the entry exists. */
  async function hold(path: string, claims: Set<string>): Promise<void> {
    if (!claims.has(path)) {
      claims.add(path);
      held.set(path, (held.get(path) ?? 0) + 1);
      passHeld?.add(path);
    }
    await evicting.get(path);
  }

  function release(claims: Set<string>): void {
    for (const path of claims) {
      const count = (held.get(path) ?? 1) - 1;
      if (count > 0) held.set(path, count);
      else held.delete(path);
    }
  }

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

  async function fetchBlob(source: string, store: ObjectStoreLike, info: ObjectInfoLike, claims: Set<string>): Promise<string> {
    const finalPath = join(cacheDir, "objects", digestKey(info));
    await hold(finalPath, claims);
    const path = (await exists(finalPath)) ? finalPath : await once(finalPath, () => downloadBlob(source, store, info, claims));
    await hold(path, claims);
    await touchEntry(path);
    return path;
  }

  async function downloadBlob(source: string, store: ObjectStoreLike, info: ObjectInfoLike, claims: Set<string>): Promise<string> {
    const result = await store.get(info.name);
    if (!result) throw new StorageError(source, StorageErrorReason.ObjectNotFound, `object "${info.name}" not found`);
    // The object may have been replaced since `info`; file it under the digest we actually read.
    const path = join(cacheDir, "objects", digestKey(result.info));
    await hold(path, claims);
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
  }

  async function unpack(
    source: string,
    store: ObjectStoreLike,
    info: ObjectInfoLike,
    kind: ArchiveKind,
    claims: Set<string>,
  ): Promise<string> {
    // Once unpacked, the archive's blob is linked by no instance, so eviction takes it before the
    // folder: look for the folder first rather than downloading the archive again for nothing.
    const known = join(cacheDir, "unpacked", digestKey(info));
    await hold(known, claims);
    if (await exists(known)) {
      await touchEntry(known);
      return known;
    }
    const blob = await fetchBlob(source, store, info, claims);
    const finalPath = join(cacheDir, "unpacked", basename(blob));
    // Recording the use also covers a folder tar just created: tar sets its mtime to the archive's.
    return ensureFolder(
      finalPath,
      claims,
      "unpack-",
      (tmp) => unpackInto(blob, kind, tmp),
      (error) => new StorageError(source, StorageErrorReason.UnpackFailed, `cannot unpack ${kind} archive`, { cause: error }),
    );
  }

  async function fetchTree(
    source: string,
    store: ObjectStoreLike,
    prefix: string,
    infos: ObjectInfoLike[],
    claims: Set<string>,
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
    const build = async (tmp: string) => {
      // Sequential: objects arrive in chunks over one connection anyway, and it keeps memory flat.
      for (const entry of entries) {
        const blob = await fetchBlob(source, store, entry.info, claims);
        const target = join(tmp, entry.rel);
        await mkdir(dirname(target), { recursive: true });
        await linkOrCopy(blob, target);
      }
    };
    return ensureFolder(
      finalPath,
      claims,
      "tree-",
      build,
      (error) => new StorageError(source, StorageErrorReason.FetchFailed, "cannot assemble folder", { cause: error }),
    );
  }

  /**
   * Holds the folder entry at `finalPath` and records its use, building it first when it is missing:
   * once, into a fresh folder under `tmp/`, published by a rename. A build's own StorageError passes
   * through; any other failure becomes `failure(error)`.
   */
  async function ensureFolder(
    finalPath: string,
    claims: Set<string>,
    tmpPrefix: string,
    build: (tmp: string) => Promise<void>,
    failure: (error: unknown) => StorageError,
  ): Promise<string> {
    await hold(finalPath, claims);
    if (!(await exists(finalPath))) {
      await once(finalPath, async () => {
        await mkdir(tmpDir, { recursive: true });
        const tmp = await mkdtemp(join(tmpDir, tmpPrefix));
        try {
          await build(tmp);
        } catch (error) {
          await rm(tmp, { recursive: true, force: true });
          throw error instanceof StorageError ? error : failure(error);
        }
        return await publishFolder(tmp, finalPath);
      });
    }
    await touchEntry(finalPath);
    return finalPath;
  }

  async function fetchObject(source: string, bucket: string, key: string, prefix: boolean, claims: Set<string>): Promise<Fetched> {
    const store = await openBucket(source, bucket);
    if (!prefix) {
      const info = await store.info(key);
      if (info && !info.deleted) {
        const kind = archiveKind(key);
        const target = kind ? await unpack(source, store, info, kind, claims) : await fetchBlob(source, store, info, claims);
        return { target, shared: true };
      }
    }
    // `obj://bucket/folder` without the trailing slash still means the folder `eas upload` made.
    const folderPrefix = prefix || key === "" ? key : `${key}/`;
    const listed = (await store.list()).filter((info) => !info.deleted && info.name.startsWith(folderPrefix));
    if (listed.length === 0) {
      const what = prefix ? `no objects under "${key}"` : `object "${key}" not found`;
      throw new StorageError(source, StorageErrorReason.ObjectNotFound, `${what} in bucket "${bucket}"`);
    }
    return { target: await fetchTree(source, store, folderPrefix, listed, claims), shared: true };
  }

  async function fetchSource(mount: StorageMount, claims: Set<string>): Promise<Fetched | undefined> {
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
        return await fetchObject(mount.source, parsed.bucket, parsed.key, parsed.prefix, claims);
    }
  }

  async function materializeOne(mount: StorageMount, instanceDir: string, claims: Set<string>): Promise<MountedPath> {
    const mountPath = normalizeMountPath(mount.mountPath, mount.source);
    const localPath = mountLocation(instanceDir, mountPath);
    const fetched = await fetchSource(mount, claims);
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

  /** Deletes one entry unless a materialize holds it (or held it during this pass) or fetches it. */
  async function evictEntry(entry: CacheEntry): Promise<boolean> {
    const path = join(cacheDir, entry.path);
    if (entry.path.startsWith("tmp/")) {
      await removeTree(path);
      return true;
    }
    if (held.has(path) || passHeld?.has(path) || inflight.has(path) || evicting.has(path)) return false;
    const removal = (async () => {
      await mkdir(tmpDir, { recursive: true });
      const trash = join(tmpDir, `evicted-${randomUUID()}`);
      try {
        await rename(path, trash);
      } catch (error) {
        // Gone since the pass measured it (someone cleaned up by hand): nothing left to free.
        if ((error as NodeJS.ErrnoException).code === "ENOENT") return false;
        throw error;
      }
      await removeTree(trash);
      return true;
    })();
    evicting.set(
      path,
      removal.then(
        () => undefined,
        () => undefined,
      ),
    );
    try {
      return await removal;
    } finally {
      evicting.delete(path);
    }
  }

  async function evictionPass(budget: CacheEvictionOptions): Promise<EvictionReport> {
    passHeld = new Set(held.keys());
    try {
      const entries = await measureCache(cacheDir);
      const inUse = await entriesInUse(cacheDir, budget.instancesDir);
      for (const path of [...passHeld, ...inflight.keys()]) {
        const entry = cacheEntryOf(relative(cacheDir, path).split(sep).join("/"));
        if (entry) inUse.add(entry);
      }
      const plan = planEviction({ entries, inUse, maxBytes: budget.maxBytes, nowMs: Date.now() });
      const evicted: CacheEntry[] = [];
      let remainingBytes = plan.totalBytes;
      for (const entry of plan.evict) {
        if (!(await evictEntry(entry))) continue;
        evicted.push(entry);
        remainingBytes -= entry.bytes;
      }
      return { maxBytes: budget.maxBytes, totalBytes: plan.totalBytes, evicted, remainingBytes };
    } finally {
      passHeld = undefined;
    }
  }

  // One pass at a time; calls during a pass ask for one more pass after it, however many they are.
  let evictionLoop: Promise<void> | undefined;
  let evictAgain = false;

  function evictUnused(): Promise<void> {
    const budget = options.eviction;
    if (!budget || budget.maxBytes <= 0) return Promise.resolve();
    if (evictionLoop) {
      evictAgain = true;
      return evictionLoop;
    }
    evictionLoop = (async () => {
      try {
        do {
          evictAgain = false;
          try {
            const report = await evictionPass(budget);
            budget.onPass?.(report);
          } catch (error) {
            try {
              budget.onError?.(error);
            } catch {
              // A failing report must not turn into an unhandled rejection that takes the agent down.
            }
          }
        } while (evictAgain);
      } finally {
        // In the same step as the last check of `evictAgain`, so no request falls between the two.
        evictionLoop = undefined;
      }
    })();
    return evictionLoop;
  }

  let swept: Promise<void> | undefined;

  return {
    async materialize(mounts, instanceDir) {
      assertDisjointMounts(mounts);
      // Leftovers of a crashed agent: never renamed into the cache, so only disk space is at stake.
      swept ??= sweepStale(tmpDir);
      await swept;
      const mounted: MountedPath[] = [];
      const claims = new Set<string>();
      try {
        for (const mount of mounts) {
          try {
            mounted.push(await materializeOne(mount, instanceDir, claims));
          } catch (error) {
            if (error instanceof StorageError) throw error;
            throw new StorageError(mount.source, StorageErrorReason.FetchFailed, "unexpected failure", { cause: error });
          }
        }
      } finally {
        release(claims);
        // In the background: an instance never waits for, or fails because of, an eviction pass.
        void evictUnused();
      }
      return mounted;
    },
    evictUnused,
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

async function sweepStale(folder: string): Promise<void> {
  let entries: string[];
  try {
    entries = await readdir(folder);
  } catch {
    return;
  }
  const now = Date.now();
  for (const entry of entries) {
    const path = join(folder, entry);
    try {
      if (isStaleTemporary((await stat(path)).mtimeMs, now)) await rm(path, { recursive: true, force: true });
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

/** `rm -rf`, also of folders an archive unpacked without write permission. */
async function removeTree(path: string): Promise<void> {
  try {
    await rm(path, { recursive: true, force: true });
  } catch {
    await makeWritable(path);
    await rm(path, { recursive: true, force: true });
  }
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

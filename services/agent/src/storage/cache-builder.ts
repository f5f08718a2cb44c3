import { execFile } from "node:child_process";
import { createHash, randomUUID } from "node:crypto";
import { createWriteStream } from "node:fs";
import { chmod, mkdir, mkdtemp, rename, rm } from "node:fs/promises";
import { basename, dirname, join } from "node:path";
import { Readable } from "node:stream";
import { pipeline } from "node:stream/promises";
import type { ReadableStream as NodeReadableStream } from "node:stream/web";
import { touchEntry } from "./cache.js";
import type { Claim, EntryClaims } from "./entry-claims.js";
import { StorageError, StorageErrorReason } from "./errors.js";
import { exists, linkOrCopy } from "./files.js";
import { digestKey, openBucket, type ObjectInfoLike, type ObjectStoreLike, type ObjectStoreOpener } from "./object-store.js";
import { archiveKind, relativeKeyPath, type ArchiveKind } from "./source.js";

/**
 * Builds the entries of the content-addressed cache from the object store:
 * `objects/<sha256>` (one file per object digest, read-only), `unpacked/<sha256>/`
 * (an archive's contents), `trees/<sha256>/` (a prefix's objects as a folder of hard
 * links). Entries are built under `tmp/` and renamed into place, so a crash never
 * leaves a partial entry, and an existing entry is always complete. Every entry it
 * returns is held for the caller's claim and its use recorded (mtime).
 *
 * Archives (`.tar.gz`, `.tgz`, `.tar`, `.zip`) fetched as a single object are unpacked
 * with the system `tar` and `unzip` commands (Node has no built-in tar; both ship with Debian).
 */
export class CacheBuilder {
  readonly #cacheDir: string;
  readonly #tmpDir: string;
  readonly #objectStore: ObjectStoreOpener | undefined;
  readonly #claims: EntryClaims;

  constructor(cacheDir: string, objectStore: ObjectStoreOpener | undefined, claims: EntryClaims) {
    this.#cacheDir = cacheDir;
    this.#tmpDir = join(cacheDir, "tmp");
    this.#objectStore = objectStore;
    this.#claims = claims;
  }

  /** The cache entry for `obj://bucket/key` (an object, an unpacked archive, or a folder of objects). */
  async fetchObject(source: string, bucket: string, key: string, prefix: boolean, claim: Claim): Promise<string> {
    const store = await openBucket(this.#objectStore, source, bucket);
    if (!prefix) {
      const info = await store.info(key);
      if (info && !info.deleted) {
        const kind = archiveKind(key);
        return kind ? await this.#unpack(source, store, info, kind, claim) : await this.#fetchBlob(source, store, info, claim);
      }
    }
    // `obj://bucket/folder` without the trailing slash still means the folder `eas upload` made.
    const folderPrefix = prefix || key === "" ? key : `${key}/`;
    const listed = (await store.list()).filter((info) => !info.deleted && info.name.startsWith(folderPrefix));
    if (listed.length === 0) {
      const what = prefix ? `no objects under "${key}"` : `object "${key}" not found`;
      throw new StorageError(source, StorageErrorReason.ObjectNotFound, `${what} in bucket "${bucket}"`);
    }
    return await this.#fetchTree(source, store, folderPrefix, listed, claim);
  }

  async #fetchBlob(source: string, store: ObjectStoreLike, info: ObjectInfoLike, claim: Claim): Promise<string> {
    const finalPath = join(this.#cacheDir, "objects", digestKey(info));
    await this.#claims.hold(finalPath, claim);
    const path = (await exists(finalPath))
      ? finalPath
      : await this.#claims.buildOnce(finalPath, () => this.#downloadBlob(source, store, info, claim));
    await this.#claims.hold(path, claim);
    await touchEntry(path);
    return path;
  }

  async #downloadBlob(source: string, store: ObjectStoreLike, info: ObjectInfoLike, claim: Claim): Promise<string> {
    const result = await store.get(info.name);
    if (!result) throw new StorageError(source, StorageErrorReason.ObjectNotFound, `object "${info.name}" not found`);
    // The object may have been replaced since `info`; file it under the digest we actually read.
    const path = join(this.#cacheDir, "objects", digestKey(result.info));
    await this.#claims.hold(path, claim);
    const tmp = join(this.#tmpDir, `${randomUUID()}.part`);
    await mkdir(this.#tmpDir, { recursive: true });
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

  async #unpack(source: string, store: ObjectStoreLike, info: ObjectInfoLike, kind: ArchiveKind, claim: Claim): Promise<string> {
    // Once unpacked, the archive's blob is linked by no instance, so eviction takes it before the
    // folder: look for the folder first rather than downloading the archive again for nothing.
    const known = join(this.#cacheDir, "unpacked", digestKey(info));
    await this.#claims.hold(known, claim);
    if (await exists(known)) {
      await touchEntry(known);
      return known;
    }
    const blob = await this.#fetchBlob(source, store, info, claim);
    const finalPath = join(this.#cacheDir, "unpacked", basename(blob));
    // Recording the use also covers a folder tar just created: tar sets its mtime to the archive's.
    return this.#ensureFolder(
      finalPath,
      claim,
      "unpack-",
      (tmp) => unpackInto(blob, kind, tmp),
      (error) => new StorageError(source, StorageErrorReason.UnpackFailed, `cannot unpack ${kind} archive`, { cause: error }),
    );
  }

  async #fetchTree(source: string, store: ObjectStoreLike, prefix: string, infos: ObjectInfoLike[], claim: Claim): Promise<string> {
    const entries: Array<{ rel: string; info: ObjectInfoLike }> = [];
    for (const info of infos) {
      const rel = relativeKeyPath(source, prefix, info.name);
      if (rel !== undefined) entries.push({ rel, info });
    }
    entries.sort((a, b) => a.rel.localeCompare(b.rel));
    const treeKey = createHash("sha256")
      .update(JSON.stringify(entries.map((entry) => [entry.rel, digestKey(entry.info)])))
      .digest("hex");
    const finalPath = join(this.#cacheDir, "trees", treeKey);
    const build = async (tmp: string) => {
      // Sequential: objects arrive in chunks over one connection anyway, and it keeps memory flat.
      for (const entry of entries) {
        const blob = await this.#fetchBlob(source, store, entry.info, claim);
        const target = join(tmp, entry.rel);
        await mkdir(dirname(target), { recursive: true });
        await linkOrCopy(blob, target);
      }
    };
    return this.#ensureFolder(
      finalPath,
      claim,
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
  async #ensureFolder(
    finalPath: string,
    claim: Claim,
    tmpPrefix: string,
    build: (tmp: string) => Promise<void>,
    failure: (error: unknown) => StorageError,
  ): Promise<string> {
    await this.#claims.hold(finalPath, claim);
    if (!(await exists(finalPath))) {
      await this.#claims.buildOnce(finalPath, async () => {
        await mkdir(this.#tmpDir, { recursive: true });
        const tmp = await mkdtemp(join(this.#tmpDir, tmpPrefix));
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

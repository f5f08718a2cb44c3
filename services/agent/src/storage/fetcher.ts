import { join } from "node:path";
import type { StorageMount } from "@eas/proto";
import { CacheBuilder } from "./cache-builder.js";
import { CacheEvictor, sweepStaleTemporaries, type CacheEvictionOptions } from "./cache-evictor.js";
import { EntryClaims, type Claim } from "./entry-claims.js";
import { StorageError, StorageErrorReason } from "./errors.js";
import { exists } from "./files.js";
import { layOutMount, type Fetched, type WritableMountMode } from "./mount-layout.js";
import type { ObjectStoreOpener } from "./object-store.js";
import { assertDisjointMounts, mountLocation, normalizeMountPath, parseSource } from "./source.js";

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
  writableObjectMounts?: WritableMountMode;
  /** Keeps the cache within a byte budget by deleting entries no instance uses; without it the cache only grows. */
  eviction?: CacheEvictionOptions;
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

/**
 * Builds a storage fetcher over a content-addressed cache. Its parts, each the only writer of its state:
 * `EntryClaims` (which entries materializes hold, builds in flight, removals in flight), `CacheBuilder`
 * (fetching objects into cache entries), `CacheEvictor` (keeping the cache within its budget) and
 * `layOutMount` (an instance's `mounts/` folder). See `CacheBuilder` for the cache's layout.
 *
 * With `eviction`, every entry materialize uses gets its mtime set to now (last used), and after
 * each materialize a pass deletes entries least recently used first until the cache fits the budget.
 */
export function createStorageFetcher(options: StorageFetcherOptions): StorageFetcher {
  const writableMode = options.writableObjectMounts ?? "copy";
  const claims = new EntryClaims();
  const builder = new CacheBuilder(options.cacheDir, options.objectStore, claims);
  const evictor = new CacheEvictor(options.cacheDir, options.eviction, claims);
  let swept: Promise<void> | undefined;

  async function fetchSource(mount: StorageMount, claim: Claim): Promise<Fetched | undefined> {
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
        return { target: await builder.fetchObject(mount.source, parsed.bucket, parsed.key, parsed.prefix, claim), shared: true };
    }
  }

  async function materializeOne(mount: StorageMount, instanceDir: string, claim: Claim): Promise<MountedPath> {
    const mountPath = normalizeMountPath(mount.mountPath, mount.source);
    const localPath = mountLocation(instanceDir, mountPath);
    const fetched = await fetchSource(mount, claim);
    await layOutMount(mount, mountPath, localPath, fetched, writableMode);
    return { mountPath, localPath };
  }

  return {
    async materialize(mounts, instanceDir) {
      assertDisjointMounts(mounts);
      swept ??= sweepStaleTemporaries(join(options.cacheDir, "tmp"));
      await swept;
      const mounted: MountedPath[] = [];
      const claim: Claim = new Set();
      try {
        for (const mount of mounts) {
          try {
            mounted.push(await materializeOne(mount, instanceDir, claim));
          } catch (error) {
            if (error instanceof StorageError) throw error;
            throw new StorageError(mount.source, StorageErrorReason.FetchFailed, "unexpected failure", { cause: error });
          }
        }
      } finally {
        claims.release(claim);
        // In the background: an instance never waits for, or fails because of, an eviction pass.
        void evictor.evictUnused();
      }
      return mounted;
    },
    evictUnused: () => evictor.evictUnused(),
  };
}

import { randomUUID } from "node:crypto";
import { mkdir, readdir, rename, rm, stat } from "node:fs/promises";
import { join, relative, sep } from "node:path";
import { entriesInUse, measureCache } from "./cache.js";
import type { EntryClaims } from "./entry-claims.js";
import { cacheEntryOf, isStaleTemporary, planEviction, type CacheEntry } from "./eviction.js";
import { removeTree } from "./files.js";

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

/**
 * Keeps the cache within its byte budget: a pass measures the cache, plans (`planEviction`, least
 * recently used first) and deletes until it fits. It never deletes an entry an instance links to,
 * one a materialize holds (being fetched, linked or copied), or a `tmp/` file younger than the
 * day-old sweep. An entry is renamed into `tmp/` before it is deleted, so a crash mid-delete never
 * leaves a partial entry in place. One pass at a time.
 */
export class CacheEvictor {
  readonly #cacheDir: string;
  readonly #tmpDir: string;
  readonly #budget: CacheEvictionOptions | undefined;
  readonly #claims: EntryClaims;
  // One pass at a time; calls during a pass ask for one more pass after it, however many they are.
  #loop: Promise<void> | undefined;
  #again = false;

  constructor(cacheDir: string, budget: CacheEvictionOptions | undefined, claims: EntryClaims) {
    this.#cacheDir = cacheDir;
    this.#tmpDir = join(cacheDir, "tmp");
    this.#budget = budget;
    this.#claims = claims;
  }

  /**
   * Runs an eviction pass; resolves once a pass that started after this call has ended. Never
   * rejects: failures go to `onError`. Does nothing without a budget.
   */
  evictUnused(): Promise<void> {
    const budget = this.#budget;
    if (!budget || budget.maxBytes <= 0) return Promise.resolve();
    if (this.#loop) {
      this.#again = true;
      return this.#loop;
    }
    this.#loop = (async () => {
      try {
        do {
          this.#again = false;
          try {
            const report = await this.#pass(budget);
            budget.onPass?.(report);
          } catch (error) {
            try {
              budget.onError?.(error);
            } catch {
              // A failing report must not turn into an unhandled rejection that takes the agent down.
            }
          }
        } while (this.#again);
      } finally {
        // In the same step as the last check of `#again`, so no request falls between the two.
        this.#loop = undefined;
      }
    })();
    return this.#loop;
  }

  async #pass(budget: CacheEvictionOptions): Promise<EvictionReport> {
    this.#claims.startPass();
    try {
      const entries = await measureCache(this.#cacheDir);
      const inUse = await entriesInUse(this.#cacheDir, budget.instancesDir);
      for (const path of this.#claims.passBusyPaths()) {
        const entry = cacheEntryOf(relative(this.#cacheDir, path).split(sep).join("/"));
        if (entry) inUse.add(entry);
      }
      const plan = planEviction({ entries, inUse, maxBytes: budget.maxBytes, nowMs: Date.now() });
      const evicted: CacheEntry[] = [];
      let remainingBytes = plan.totalBytes;
      for (const entry of plan.evict) {
        if (!(await this.#evict(entry))) continue;
        evicted.push(entry);
        remainingBytes -= entry.bytes;
      }
      return { maxBytes: budget.maxBytes, totalBytes: plan.totalBytes, evicted, remainingBytes };
    } finally {
      this.#claims.endPass();
    }
  }

  /** Deletes one entry unless a materialize holds it (or held it during this pass) or builds it. */
  async #evict(entry: CacheEntry): Promise<boolean> {
    const path = join(this.#cacheDir, entry.path);
    if (entry.path.startsWith("tmp/")) {
      await removeTree(path);
      return true;
    }
    if (this.#claims.isBusy(path)) return false;
    return await this.#claims.remove(path, async () => {
      await mkdir(this.#tmpDir, { recursive: true });
      const trash = join(this.#tmpDir, `evicted-${randomUUID()}`);
      try {
        await rename(path, trash);
      } catch (error) {
        // Gone since the pass measured it (someone cleaned up by hand): nothing left to free.
        if ((error as NodeJS.ErrnoException).code === "ENOENT") return false;
        throw error;
      }
      await removeTree(trash);
      return true;
    });
  }
}

/** Deletes what a crashed agent left in `tmp/`: never renamed into the cache, so only disk space is at stake. */
export async function sweepStaleTemporaries(tmpDir: string): Promise<void> {
  let entries: string[];
  try {
    entries = await readdir(tmpDir);
  } catch {
    return;
  }
  const now = Date.now();
  for (const entry of entries) {
    const path = join(tmpDir, entry);
    try {
      if (isStaleTemporary((await stat(path)).mtimeMs, now)) await rm(path, { recursive: true, force: true });
    } catch {
      // Gone already, or in use: either way not ours to worry about.
    }
  }
}

/**
 * Which cache entries to delete so the cache fits its byte budget: pure, the I/O is in `cache.ts`.
 */

/**
 * How old a `tmp/` leftover must be before anything deletes it: older than any download could
 * take, so it is safe even while another fetch (or another agent sharing the cache) is writing.
 */
export const STALE_TEMPORARY_MS = 24 * 60 * 60 * 1000;

/** The top-level folders of the cache; each of their children is one entry. */
export const CACHE_ENTRY_FOLDERS = ["objects", "unpacked", "trees", "tmp"] as const;

/** One entry of the cache: a file or folder directly under one of `CACHE_ENTRY_FOLDERS`. */
export interface CacheEntry {
  /** Relative to the cache folder, `/`-separated: `objects/<sha256>`, `unpacked/<sha256>`, `trees/<sha256>`, `tmp/<name>`. */
  path: string;
  /** The sum of the sizes of its files. */
  bytes: number;
  /** When it was last used (for `tmp/`: last written), in ms since the epoch. */
  lastUsedMs: number;
}

export interface EvictionInput {
  entries: readonly CacheEntry[];
  /** Entry paths (as in `CacheEntry.path`) that must stay: mounted by an instance, or being fetched. */
  inUse: ReadonlySet<string>;
  /** The budget; 0 means no limit. */
  maxBytes: number;
  nowMs: number;
}

export interface EvictionPlan {
  /** Least recently used first. */
  evict: CacheEntry[];
  totalBytes: number;
  /** What stays; still above `maxBytes` when the entries that must stay do not fit. */
  remainingBytes: number;
}

/** True for a `tmp/` leftover the day-old sweep deletes; anything younger may still be written to. */
export function isStaleTemporary(lastWrittenMs: number, nowMs: number): boolean {
  return lastWrittenMs < nowMs - STALE_TEMPORARY_MS;
}

/**
 * Plans an eviction: nothing while the cache fits `maxBytes`; otherwise entries least recently
 * used first until it fits, never one in use and never a `tmp/` entry younger than a day.
 */
export function planEviction(input: EvictionInput): EvictionPlan {
  const totalBytes = input.entries.reduce((sum, entry) => sum + entry.bytes, 0);
  if (input.maxBytes <= 0 || totalBytes <= input.maxBytes) return { evict: [], totalBytes, remainingBytes: totalBytes };
  const candidates = input.entries
    .filter((entry) => !input.inUse.has(entry.path))
    .filter((entry) => !entry.path.startsWith("tmp/") || isStaleTemporary(entry.lastUsedMs, input.nowMs))
    // The path breaks ties so a plan never depends on the order the folders were listed in.
    .sort((a, b) => a.lastUsedMs - b.lastUsedMs || (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
  const evict: CacheEntry[] = [];
  let remainingBytes = totalBytes;
  for (const entry of candidates) {
    if (remainingBytes <= input.maxBytes) break;
    evict.push(entry);
    remainingBytes -= entry.bytes;
  }
  return { evict, totalBytes, remainingBytes };
}

/**
 * The entry a path inside the cache belongs to (`trees/<key>/lib/util.py` -> `trees/<key>`), or
 * undefined when the path is not inside an entry.
 * @param relativePath relative to the cache folder, `/`-separated
 */
export function cacheEntryOf(relativePath: string): string | undefined {
  const segments = relativePath.split("/").filter((segment) => segment !== "" && segment !== ".");
  const [folder, name] = segments;
  if (segments.includes("..") || name === undefined) return undefined;
  if (!(CACHE_ENTRY_FOLDERS as readonly string[]).includes(folder!)) return undefined;
  return `${folder}/${name}`;
}

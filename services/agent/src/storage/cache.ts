import type { Dirent } from "node:fs";
import { lstat, readdir, readlink, realpath, utimes } from "node:fs/promises";
import { dirname, isAbsolute, join, relative, resolve, sep } from "node:path";
import { CACHE_ENTRY_FOLDERS, cacheEntryOf, type CacheEntry } from "./eviction.js";

/**
 * Lists and measures every entry of the cache. An entry's size is the sum of its files' sizes,
 * each inode counted once per entry: a file hard-linked into a tree counts in the tree and again in
 * `objects/` although the disk holds it once, so the measured total can exceed the disk used (and
 * evicting such a blob frees less than it counts). Last used is the entry's mtime, which the fetcher
 * sets whenever an instance uses the entry (`touchEntry`).
 */
export async function measureCache(cacheDir: string): Promise<CacheEntry[]> {
  const entries: CacheEntry[] = [];
  for (const folder of CACHE_ENTRY_FOLDERS) {
    for (const name of await readdirOrEmpty(join(cacheDir, folder))) {
      const path = join(cacheDir, folder, name);
      try {
        const info = await lstat(path);
        const bytes = info.isDirectory() ? await folderBytes(path, new Set()) : info.size;
        entries.push({ path: `${folder}/${name}`, bytes, lastUsedMs: info.mtimeMs });
      } catch (error) {
        // Deleted while we looked (a sweep, a fetch that lost a rename race): nothing to measure.
        if (!isNotFound(error)) throw error;
      }
    }
  }
  return entries;
}

/**
 * The cache entries the instances under `instancesDir` use: every symlink under
 * `<instancesDir>/<id>/mounts` whose target lies inside the cache, mapped to its top entry.
 * Private copies (writable mounts) and local paths use no entry.
 */
export async function entriesInUse(cacheDir: string, instancesDir: string): Promise<Set<string>> {
  const roots = new Set([resolve(cacheDir)]);
  try {
    roots.add(await realpath(cacheDir));
  } catch {
    // No cache yet: the resolved path is the only spelling.
  }
  const inUse = new Set<string>();
  const visit = async (folder: string): Promise<void> => {
    for (const child of await childrenOrEmpty(folder)) {
      const path = join(folder, child.name);
      if (child.isDirectory()) {
        await visit(path);
      } else if (child.isSymbolicLink()) {
        let target: string;
        try {
          target = resolve(dirname(path), await readlink(path));
        } catch (error) {
          if (isNotFound(error)) continue;
          throw error;
        }
        for (const root of roots) {
          const inside = relative(root, target);
          if (inside === "" || inside.startsWith("..") || isAbsolute(inside)) continue;
          const entry = cacheEntryOf(inside.split(sep).join("/"));
          if (entry) inUse.add(entry);
        }
      }
    }
  };
  for (const instanceId of await readdirOrEmpty(instancesDir)) await visit(join(instancesDir, instanceId, "mounts"));
  return inUse;
}

/** Records that an entry was used now (its mtime); best effort, a failure only skews the LRU order. */
export async function touchEntry(path: string): Promise<void> {
  const now = new Date();
  try {
    await utimes(path, now, now);
  } catch {
    // Not ours (another user's cache) or gone: the entry simply looks older than it is.
  }
}

async function folderBytes(folder: string, seen: Set<string>): Promise<number> {
  let bytes = 0;
  for (const child of await childrenOrEmpty(folder)) {
    const path = join(folder, child.name);
    if (child.isDirectory()) {
      bytes += await folderBytes(path, seen);
    } else if (child.isFile()) {
      try {
        const info = await lstat(path);
        const inode = `${info.dev}:${info.ino}`;
        if (seen.has(inode)) continue;
        seen.add(inode);
        bytes += info.size;
      } catch (error) {
        if (!isNotFound(error)) throw error;
      }
    }
  }
  return bytes;
}

async function readdirOrEmpty(folder: string): Promise<string[]> {
  return (await childrenOrEmpty(folder)).map((child) => child.name);
}

async function childrenOrEmpty(folder: string): Promise<Dirent[]> {
  try {
    return await readdir(folder, { withFileTypes: true });
  } catch (error) {
    // A folder that does not exist (yet, or any more) holds nothing; a file where a folder was expected neither.
    if (isNotFound(error) || (error as NodeJS.ErrnoException).code === "ENOTDIR") return [];
    throw error;
  }
}

function isNotFound(error: unknown): boolean {
  return (error as NodeJS.ErrnoException | undefined)?.code === "ENOENT";
}

import { cp, mkdir, rm, symlink } from "node:fs/promises";
import { dirname } from "node:path";
import type { StorageMount } from "@eas/proto";
import { StorageError, StorageErrorReason } from "./errors.js";
import { makeWritable } from "./files.js";

/** A fetched source: the path in the cache (or on the node) the mount points at. */
export interface Fetched {
  target: string;
  /** True when `target` is in the shared cache, so a writable mount must not link to it. */
  shared: boolean;
}

/**
 * How a writable (`readOnly: false`) mount of a shared cache entry is laid out. "copy" gives the
 * instance a private copy so its writes cannot corrupt the shared cache or another instance;
 * "link" symlinks into the cache like a read-only mount.
 */
export type WritableMountMode = "copy" | "link";

/**
 * Lays out one mount at `localPath` (replacing whatever was there): an empty folder for an
 * `empty_dir` source (`fetched` undefined), a private copy of a shared entry for a writable mount
 * in "copy" mode, a symlink to the cache entry or local path otherwise.
 */
export async function layOutMount(
  mount: StorageMount,
  mountPath: string,
  localPath: string,
  fetched: Fetched | undefined,
  writableMode: WritableMountMode,
): Promise<void> {
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
}

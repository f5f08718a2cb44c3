import { chmod, copyFile, link, readdir, rm, stat } from "node:fs/promises";
import { join } from "node:path";

export async function exists(path: string): Promise<boolean> {
  try {
    await stat(path);
    return true;
  } catch {
    return false;
  }
}

/** `rm -rf`, also of folders an archive unpacked without write permission. */
export async function removeTree(path: string): Promise<void> {
  try {
    await rm(path, { recursive: true, force: true });
  } catch {
    await makeWritable(path);
    await rm(path, { recursive: true, force: true });
  }
}

/** A hard link to `from` at `to`, or a copy where a link cannot be made (another file system). */
export async function linkOrCopy(from: string, to: string): Promise<void> {
  try {
    await link(from, to);
  } catch {
    await copyFile(from, to);
  }
}

/** Gives the owner write permission on `path` and, for a folder, on everything in it. */
export async function makeWritable(path: string): Promise<void> {
  const info = await stat(path);
  if (info.isDirectory()) {
    await chmod(path, info.mode | 0o700);
    for (const entry of await readdir(path)) await makeWritable(join(path, entry));
  } else {
    await chmod(path, info.mode | 0o600);
  }
}

import { createReadStream } from "node:fs";
import { readdir, stat } from "node:fs/promises";
import { join, relative, sep } from "node:path";
import { Readable } from "node:stream";
import type { NatsConnection } from "@nats-io/transport-node";
import { Objm } from "@nats-io/obj";
import { ObjectUrlError, parseObjectUrl } from "./object-url.js";

/** One object written by `uploadToObjectStore`. */
export interface UploadedObject {
  /** The object's key in the bucket. */
  name: string;
  size: number;
  /** `SHA-256=<base64url>`, as the object store records it. */
  digest: string;
}

/** Why an upload did not start: a destination that is not `obj://bucket/key`, or a local path that does not exist. */
export class UploadError extends Error {
  override readonly name = "UploadError";
  constructor(
    /** The destination URL or the local path at fault. */
    readonly target: string,
    readonly reason: "bad-url" | "path-not-found",
    detail: string,
    options?: ErrorOptions,
  ) {
    super(`upload ${target}: ${detail}`, options);
  }
}

/**
 * Uploads a file or a folder to the NATS Object Store (what `eas upload` does).
 * The bucket is created when missing. A file goes to `key` (or, when `key` is empty or
 * ends in `/`, to `key + file name`); a folder uploads each regular file under `key/`
 * with its relative path, so `obj://bucket/key` then mounts the folder.
 * @throws UploadError (bad-url, path-not-found) before anything is written.
 */
export async function uploadToObjectStore(nc: NatsConnection, localPath: string, destination: string): Promise<UploadedObject[]> {
  let parsed;
  try {
    parsed = parseObjectUrl(destination);
  } catch (error) {
    if (!(error instanceof ObjectUrlError)) throw error;
    throw new UploadError(destination, "bad-url", `the destination ${error.message}`, { cause: error });
  }
  let info;
  try {
    info = await stat(localPath);
  } catch (error) {
    throw new UploadError(localPath, "path-not-found", `${localPath} does not exist`, { cause: error });
  }
  const store = await new Objm(nc).create(parsed.bucket);
  const files: Array<{ path: string; name: string }> = [];
  if (info.isDirectory()) {
    const prefix = parsed.prefix ? parsed.key : `${parsed.key}/`;
    for (const path of await listFiles(localPath)) {
      files.push({ path, name: prefix + relative(localPath, path).split(sep).join("/") });
    }
  } else {
    const name = parsed.prefix ? parsed.key + localPath.split(sep).pop()! : parsed.key;
    files.push({ path: localPath, name });
  }
  const uploaded: UploadedObject[] = [];
  for (const file of files) {
    const data = Readable.toWeb(createReadStream(file.path)) as unknown as ReadableStream<Uint8Array>;
    const put = await store.put({ name: file.name }, data);
    uploaded.push({ name: put.name, size: put.size, digest: put.digest });
  }
  return uploaded;
}

async function listFiles(folder: string): Promise<string[]> {
  const found: string[] = [];
  const entries = await readdir(folder, { withFileTypes: true });
  entries.sort((a, b) => a.name.localeCompare(b.name));
  for (const entry of entries) {
    const path = join(folder, entry.name);
    // Follow symlinks like `cp -L`: the store holds content, not links.
    const info = await stat(path);
    if (info.isDirectory()) found.push(...(await listFiles(path)));
    else if (info.isFile()) found.push(path);
  }
  return found;
}

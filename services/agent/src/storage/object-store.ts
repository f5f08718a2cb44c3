import { createHash } from "node:crypto";
import { StorageError, StorageErrorReason } from "./errors.js";

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

/** Opens `bucket` for `source`; failures become a {@link StorageError} naming the source. */
export async function openBucket(opener: ObjectStoreOpener | undefined, source: string, bucket: string): Promise<ObjectStoreLike> {
  if (!opener) {
    throw new StorageError(source, StorageErrorReason.NoObjectStore, "this agent has no object store configured");
  }
  try {
    return await opener.open(bucket);
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

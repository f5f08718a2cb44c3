/**
 * Why a storage mount could not be materialized. The agent reports `message` as the
 * instance's failure reason, so every message names the source.
 */
export const StorageErrorReason = {
  /** The source is not a URL or path we understand, or a key would escape its folder. */
  BadUrl: "bad-url",
  /** A mount path is not absolute, is `/`, or overlaps another mount. */
  BadMount: "bad-mount",
  /** `obj://` names a bucket that does not exist. */
  BucketNotFound: "bucket-not-found",
  /** `obj://` names a key (or prefix) with no object. */
  ObjectNotFound: "object-not-found",
  /** `file://` or a local path that does not exist. */
  PathNotFound: "path-not-found",
  /** An `obj://` source but the fetcher was built without an object store. */
  NoObjectStore: "no-object-store",
  /** The object store failed while reading (connection lost, digest mismatch). */
  FetchFailed: "fetch-failed",
  /** An archive could not be unpacked. */
  UnpackFailed: "unpack-failed",
} as const;
export type StorageErrorReason = (typeof StorageErrorReason)[keyof typeof StorageErrorReason];

const RETRYABLE: ReadonlySet<StorageErrorReason> = new Set([StorageErrorReason.FetchFailed]);

/** A storage source could not be fetched, unpacked or mounted. */
export class StorageError extends Error {
  readonly source: string;
  readonly reason: StorageErrorReason;
  /** True when trying again later may succeed (a transient object store failure). */
  readonly retryable: boolean;
  constructor(source: string, reason: StorageErrorReason, detail: string, options: { cause?: unknown } = {}) {
    super(`storage ${source}: ${detail}`, { cause: options.cause });
    this.name = new.target.name;
    this.source = source;
    this.reason = reason;
    this.retryable = RETRYABLE.has(reason);
  }
}

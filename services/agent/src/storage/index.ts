export { StorageError, StorageErrorReason } from "./errors.js";
export {
  cacheEntryOf,
  isStaleTemporary,
  planEviction,
  STALE_TEMPORARY_MS,
  type CacheEntry,
  type EvictionInput,
  type EvictionPlan,
} from "./eviction.js";
export {
  createStorageFetcher,
  digestKey,
  type CacheEvictionOptions,
  type EvictionReport,
  type MountedPath,
  type ObjectInfoLike,
  type ObjectStoreLike,
  type ObjectStoreOpener,
  type StorageFetcher,
  type StorageFetcherOptions,
} from "./fetcher.js";
export {
  archiveKind,
  assertDisjointMounts,
  mountLocation,
  normalizeMountPath,
  parseSource,
  relativeKeyPath,
  type ArchiveKind,
  type ParsedSource,
} from "./source.js";

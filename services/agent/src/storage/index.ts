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
export { createStorageFetcher, type MountedPath, type StorageFetcher, type StorageFetcherOptions } from "./fetcher.js";
export type { CacheEvictionOptions, EvictionReport } from "./cache-evictor.js";
export { digestKey, type ObjectInfoLike, type ObjectStoreLike, type ObjectStoreOpener } from "./object-store.js";
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

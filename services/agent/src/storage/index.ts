export { StorageError, StorageErrorReason } from "./errors.js";
export {
  createStorageFetcher,
  digestKey,
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
export { uploadToObjectStore, type UploadedObject } from "./upload.js";

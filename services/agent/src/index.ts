export { agentConfigSpec } from "./config.js";
export { uploadToObjectStore, StorageError } from "./storage/index.js";
export type { UploadedObject } from "./storage/index.js";

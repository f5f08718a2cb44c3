export { agentConfigSpec } from "./config.js";
export { uploadToObjectStore, StorageError } from "./storage/index.js";
export type { UploadedObject } from "./storage/index.js";
export { killRecordedGroup, readPidRecord } from "./instances/pid-file.js";
export type { LeftoverKill, PidRecord } from "./instances/pid-file.js";

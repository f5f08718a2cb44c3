export { findNatsServerBinary, startNatsServer } from "./nats-server.js";
export type { NatsServerHandle, NatsServerOptions } from "./nats-server.js";
export { freePort } from "./ports.js";
export { isRecordedProcessAlive, killRecordedGroup, readPidRecord, writePidRecord } from "./pid-record.js";
export type { LeftoverKill, PidRecord } from "./pid-record.js";
export { processStartTime } from "./process-start.js";

export { heartbeatSchema, heartbeatSubject, InvalidHeartbeatError, type HeartbeatMessage } from "./heartbeat.js";
export { isResourceId, RESOURCE_ID_PATTERN, RESOURCE_ID_RULE, resourceIdProblem } from "./identifiers.js";
export { InvalidWakeError, wakeSchema, wakeSubject, type WakeMessage } from "./wake.js";

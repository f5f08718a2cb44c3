export * from "./gen/eas/v1/spec.js";
export * from "./gen/eas/v1/events.js";
export * from "./gen/eas/v1/service_manager.js";
export * from "./gen/eas/v1/scheduler.js";
export * from "./gen/eas/v1/agent.js";
export * from "./gen/eas/v1/async_queue.js";
export * from "./gen/eas/v1/batch_events.js";
export { unaryCall } from "./unary-call.js";

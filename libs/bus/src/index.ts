export { connectBus, connectNats, createBus } from "./bus.js";
export type { Bus, BusOptions, BusSubscription, MessageContext, MessageHandler, PublishOptions, SubscribeOptions } from "./bus.js";
export { defineSubject } from "./subject.js";
export type { Subject, Schema, SubjectOptions } from "./subject.js";
export { BusError, BusUnavailableError, InvalidSubjectError } from "./errors.js";

export { connectBus, connectNats, createBus } from "./bus.js";
export type { Bus, BusOptions, PublishOptions } from "./bus.js";
export type { BusSubscription, MessageContext, MessageHandler, SubscribeOptions } from "./subscription.js";
export { defineEncodedSubject, defineSubject } from "./subject.js";
export type { Subject, SubjectOptions } from "./subject.js";
export { jsonCodec } from "./codec.js";
export type { Codec, Schema } from "./codec.js";
export { BusError, BusUnavailableError, InvalidSubjectError } from "./errors.js";

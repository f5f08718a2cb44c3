export { connectBus } from "./bus.js";
export type {
  Bus,
  BusOptions,
  BusSubscription,
  MessageContext,
  MessageHandler,
  ReplyHandler,
  PublishOptions,
  SubscribeOptions,
  RequestOptions,
} from "./bus.js";
export { defineSubject, defineRequestSubject, fillWildcards, wildcardTokens, validatePattern } from "./subject.js";
export type { Subject, RequestSubject, Schema, SubjectOptions, MessageOf, ResponseOf } from "./subject.js";
export {
  BusError,
  BusRequestError,
  BusTimeoutError,
  BusNoRespondersError,
  BusUnavailableError,
  InvalidSubjectError,
  ReplyError,
  BusErrorCodes,
} from "./errors.js";
export type { ReplyEnvelope } from "./codec.js";

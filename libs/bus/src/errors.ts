/** Error codes the bus itself puts in error replies; handlers use their own codes through {@link ReplyError}. */
export const BusErrorCodes = {
  /** The request did not parse or failed the subject's request schema. */
  InvalidRequest: "INVALID_REQUEST",
  /** The reply did not parse or failed the subject's response schema. */
  InvalidResponse: "INVALID_RESPONSE",
  /** The reply handler threw something other than a {@link ReplyError}. */
  Internal: "INTERNAL",
} as const;

/** Base of the errors the bus throws; `retryable` says whether trying again later can help. */
export abstract class BusError extends Error {
  abstract readonly retryable: boolean;
  constructor(
    message: string,
    /** The concrete NATS subject involved, when there is one. */
    readonly subject: string | undefined,
    options?: ErrorOptions,
  ) {
    super(message, options);
  }
}

/** The replier answered with an error reply `{ error: { code, message } }`. */
export class BusRequestError extends BusError {
  override readonly name = "BusRequestError";
  readonly retryable = false;
  constructor(
    subject: string,
    readonly code: string,
    readonly replyMessage: string,
    options?: ErrorOptions,
  ) {
    super(`request to ${subject} failed with ${code}: ${replyMessage}`, subject, options);
  }
}

/** No reply arrived within the request's timeout. */
export class BusTimeoutError extends BusError {
  override readonly name = "BusTimeoutError";
  readonly retryable = true;
  constructor(
    subject: string,
    readonly timeoutMs: number,
    options?: ErrorOptions,
  ) {
    super(`no reply from ${subject} within ${timeoutMs} ms`, subject, options);
  }
}

/** Nobody subscribes to the request's subject right now. */
export class BusNoRespondersError extends BusError {
  override readonly name = "BusNoRespondersError";
  readonly retryable = true;
  constructor(subject: string, options?: ErrorOptions) {
    super(`no responders on ${subject}`, subject, options);
  }
}

/** The connection is closed, draining, disconnected or could not be made. */
export class BusUnavailableError extends BusError {
  override readonly name = "BusUnavailableError";
  readonly retryable = true;
  constructor(message: string, subject: string | undefined, options?: ErrorOptions) {
    super(message, subject, options);
  }
}

/** A subject pattern or token that NATS would refuse, or a publish to a subject that still has wildcards. */
export class InvalidSubjectError extends BusError {
  override readonly name = "InvalidSubjectError";
  readonly retryable = false;
  constructor(subject: string, reason: string) {
    super(`invalid subject "${subject}": ${reason}`, subject);
  }
}

/**
 * Thrown by a reply handler to answer with `{ error: { code, message } }`; the
 * requester gets a {@link BusRequestError} with the same code and message.
 */
export class ReplyError extends Error {
  override readonly name = "ReplyError";
  constructor(
    readonly code: string,
    message: string,
    options?: ErrorOptions,
  ) {
    super(message, options);
  }
}

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

/** Base of the event store's typed errors. */
export class EventStoreError extends Error {
  readonly retryable: boolean;
  constructor(message: string, options: { cause?: unknown; retryable: boolean }) {
    super(message, { cause: options.cause });
    this.name = new.target.name;
    this.retryable = options.retryable;
  }
}

/** The stream's revision was not the expected one: someone else appended first. Re-read and decide again. */
export class VersionConflictError extends EventStoreError {
  readonly stream: string;
  readonly expected: string;
  readonly actual: string;
  constructor(stream: string, expected: string, actual: string, cause?: unknown) {
    super(`version conflict on ${stream}: expected ${expected}, actual ${actual}`, { cause, retryable: false });
    this.stream = stream;
    this.expected = expected;
    this.actual = actual;
  }
}

/** The store could not be reached or refused the operation for a transient reason. */
export class EventStoreUnavailableError extends EventStoreError {
  constructor(message: string, cause?: unknown) {
    super(message, { cause, retryable: true });
  }
}

/** A stream name or event violates the store's rules. */
export class InvalidEventError extends EventStoreError {
  constructor(message: string) {
    super(message, { retryable: false });
  }
}

/** The subscription was closed before it caught up; `caughtUp` rejects with this. */
export class SubscriptionClosedError extends EventStoreError {
  constructor() {
    super("subscription closed before it caught up", { retryable: false });
  }
}

/** One invalid field of a request: `path` names the field ("metadata.instance"). */
export interface FieldViolation {
  path: string;
  message: string;
}

/** Base of errors a domain decision raises; mapped to gRPC/HTTP status codes in one place (service-kit). */
export abstract class DomainError extends Error {
  abstract readonly code: "invalid" | "not_found" | "already_exists" | "failed_precondition";
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = new.target.name;
  }
}

/** The request is malformed; lists every offending field. */
export class ValidationError extends DomainError {
  readonly code = "invalid" as const;
  readonly violations: FieldViolation[];
  constructor(violations: FieldViolation[]) {
    super(violations.map((v) => (v.path ? `${v.path}: ${v.message}` : v.message)).join("; "));
    this.violations = violations;
  }
}

export class NotFoundError extends DomainError {
  readonly code = "not_found" as const;
  readonly resource: string;
  readonly id: string;
  /** `message` replaces the default `<resource> <id> not found` where a better sentence helps the reader. */
  constructor(resource: string, id: string, message = `${resource} ${id} not found`) {
    super(message);
    this.resource = resource;
    this.id = id;
  }
}

export class AlreadyExistsError extends DomainError {
  readonly code = "already_exists" as const;
  readonly resource: string;
  readonly id: string;
  constructor(resource: string, id: string) {
    super(`${resource} ${id} already exists`);
    this.resource = resource;
    this.id = id;
  }
}

/** The command is valid but not allowed in the aggregate's current state. */
export class PreconditionFailedError extends DomainError {
  readonly code = "failed_precondition" as const;
}

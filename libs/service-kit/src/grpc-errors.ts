import { Metadata, status, type ServiceError } from "@grpc/grpc-js";
import { DomainError, ValidationError } from "@eas/decider";
import { EventStoreUnavailableError, VersionConflictError } from "@eas/event-store";
import { ProjectionLagError } from "@eas/projections";

/** The caller went away (deadline passed, cancelled) before the work began: nothing was done. */
export class CallCancelledError extends Error {
  constructor(what: string) {
    super(`the caller went away before ${what} began; nothing was done`);
    this.name = "CallCancelledError";
  }
}

const DOMAIN_CODES = {
  invalid: status.INVALID_ARGUMENT,
  not_found: status.NOT_FOUND,
  already_exists: status.ALREADY_EXISTS,
  failed_precondition: status.FAILED_PRECONDITION,
} as const;

/** The one place where our errors become gRPC statuses. Unknown errors become INTERNAL without leaking details. */
export function toServiceError(error: unknown): Partial<ServiceError> & { code: status; details: string } {
  if (error instanceof DomainError) {
    const metadata = new Metadata();
    if (error instanceof ValidationError) {
      metadata.set("eas-field-violations-bin", Buffer.from(JSON.stringify(error.violations)));
    }
    return { code: DOMAIN_CODES[error.code], details: error.message, metadata };
  }
  if (error instanceof VersionConflictError) {
    return { code: status.ABORTED, details: `concurrent modification, retry: ${error.message}` };
  }
  if (error instanceof ProjectionLagError) {
    return { code: status.UNAVAILABLE, details: `accepted, but the read model is behind: ${error.message}; retry the read` };
  }
  if (error instanceof EventStoreUnavailableError) {
    return { code: status.UNAVAILABLE, details: error.message };
  }
  if (error instanceof CallCancelledError) {
    return { code: status.CANCELLED, details: error.message };
  }
  return { code: status.INTERNAL, details: "internal error" };
}

/** Whether toServiceError would hide this error as INTERNAL (so the caller logs it). */
export function isUnexpectedError(error: unknown): boolean {
  return !(
    error instanceof DomainError ||
    error instanceof VersionConflictError ||
    error instanceof EventStoreUnavailableError ||
    error instanceof ProjectionLagError ||
    error instanceof CallCancelledError
  );
}
